package dev.osd.app;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.TextTokenizer;
import java.nio.file.Path;

/**
 * A target and a draft loaded for a command: the directories given, else the embedded models; the target's
 * tokenizer; everything closed together.
 */
record ModelPair(NDManager manager, NDManager targetManager, TextTokenizer tokenizer, LlamaModel target,
        LlamaModel draft) implements AutoCloseable {

    /** @param model target directory or null; @param draft draft directory or null */
    static ModelPair open(Path model, Path draft, Device targetDevice) {
        Path targetDir = model != null ? model : Osd.embedded("target");
        Path draftDir = draft != null ? draft : Osd.embedded("draft");
        if (targetDir == null || draftDir == null) {
            throw new IllegalArgumentException("need a target and a draft (--model, --draft or models/)");
        }
        NDManager manager = NDManager.newBaseManager();
        NDManager targetManager = NDManager.newBaseManager(targetDevice);
        try {
            TextTokenizer tokenizer = TextTokenizer.load(targetDir);
            return new ModelPair(manager, targetManager, tokenizer, LlamaModel.load(targetDir, targetManager),
                    LlamaModel.load(draftDir, manager));
        } catch (RuntimeException e) {
            targetManager.close();
            manager.close();
            throw e;
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
