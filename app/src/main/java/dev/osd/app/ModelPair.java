package dev.osd.app;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.TextTokenizer;
import dev.osd.engine.TokenizerConfig;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A target and a draft loaded for a command: the directories given, else the embedded models; the target's
 * tokenizer; everything closed together.
 */
record ModelPair(NDManager manager, NDManager targetManager, TextTokenizer tokenizer, TokenizerConfig tokenizerConfig,
        LlamaModel target, LlamaModel draft, LlamaConfig targetConfig) implements AutoCloseable {

    /** @param model target directory or null; @param draft draft directory or null */
    static ModelPair open(Path model, Path draft, Device targetDevice) {
        return open(model, draft, targetDevice, true, true);
    }

    /**
     * Only the weights a node's roles use: a gateway-only node needs the target's configuration and tokenizer,
     * not its weights (then {@code target} or {@code draft} is null).
     */
    static ModelPair open(Path model, Path draft, Device targetDevice, boolean targetWeights, boolean draftWeights) {
        requireDirectory("--model", model);
        requireDirectory("--draft", draft);
        Path targetDir = model != null ? model : Osd.embedded("target");
        Path draftDir = draft != null ? draft : Osd.embedded("draft");
        if (targetDir == null || draftDir == null) {
            throw new IllegalArgumentException("need a target and a draft (--model, --draft or models/)");
        }
        NDManager manager = NDManager.newBaseManager();
        NDManager targetManager = NDManager.newBaseManager(targetDevice);
        try {
            TextTokenizer tokenizer = TextTokenizer.load(targetDir);
            TokenizerConfig tokenizerConfig = TokenizerConfig.read(targetDir);
            LlamaModel target = targetWeights ? LlamaModel.load(targetDir, targetManager) : null;
            return new ModelPair(manager, targetManager, tokenizer, tokenizerConfig, target,
                    draftWeights ? LlamaModel.load(draftDir, manager) : null,
                    target != null ? target.config() : LlamaConfig.read(targetDir));
        } catch (RuntimeException e) {
            targetManager.close();
            manager.close();
            throw e;
        }
    }

    /** A model directory given on the command line that is not there is said to be missing, before anything loads. */
    static void requireDirectory(String option, Path dir) {
        if (dir == null) {
            return;
        }
        if (!Files.exists(dir)) {
            throw new IllegalArgumentException(option + " " + dir + ": no such directory");
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(option + " " + dir + ": not a directory (a model is a directory "
                    + "with config.json, the weights and tokenizer.json)");
        }
    }

    static ModelPair open(Path model, Path draft) {
        return open(model, draft, Device.cpu());
    }

    @Override
    public void close() {
        tokenizer.close();
        targetManager.close();
        manager.close();
    }
}
