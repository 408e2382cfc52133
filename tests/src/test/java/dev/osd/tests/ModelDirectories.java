package dev.osd.tests;

import ai.djl.ndarray.NDManager;
import dev.osd.engine.ByteLevelBpe;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaWeights;
import dev.osd.engine.SafeTensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Writes small random models as complete Hugging Face directories (config, safetensors, tokenizer). */
final class ModelDirectories {

    /** Two special tokens, then the 256 bytes: &lt;|endoftext|&gt; = 0 is EOS, &lt;s&gt; = 1 is BOS. */
    static final int VOCAB = 258;

    private ModelDirectories() {
    }

    static LlamaConfig target() {
        return new LlamaConfig(64, 160, 3, 4, 2, 1e-5, 10000.0, VOCAB, 256, false, 1, 0);
    }

    static LlamaConfig draft() {
        return new LlamaConfig(32, 64, 1, 2, 1, 1e-6, 10000.0, VOCAB, 256, true, 1, 0);
    }

    static Path write(Path dir, LlamaConfig config, long seed, SafeTensors.DType dtype) throws IOException {
        try (NDManager manager = NDManager.newBaseManager();
                LlamaWeights weights = LlamaWeights.random(config, seed, 0.25, manager)) {
            weights.save(dir, dtype);
        }
        ByteLevelBpe.write(dir.resolve("tokenizer.json"), List.of("<|endoftext|>", "<s>"), List.of());
        return dir;
    }
}
