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
        return LlamaConfig.builder()
                .setHiddenSize(64).setIntermediateSize(160).setNumHiddenLayers(3).setNumAttentionHeads(4)
                .optNumKeyValueHeads(2).setVocabSize(VOCAB).optMaxPositionEmbeddings(256).optBosTokenId(1)
                .optEosTokenId(0).build();
    }

    static LlamaConfig draft() {
        return LlamaConfig.builder()
                .setHiddenSize(32).setIntermediateSize(64).setNumHiddenLayers(1).setNumAttentionHeads(2)
                .optNumKeyValueHeads(1).optRmsNormEps(1e-6).setVocabSize(VOCAB).optMaxPositionEmbeddings(256)
                .optTieWordEmbeddings(true).optBosTokenId(1).optEosTokenId(0).build();
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
