package dev.osd.distillation;

import ai.djl.ndarray.NDManager;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;

/** JVM-wide fixture: one small random target and draft of one 64-token vocabulary, built once. */
final class TinyPair {

    static final int VOCAB = 64;
    private static NDManager manager;
    private static LlamaModel target;
    private static LlamaModel draft;

    private TinyPair() {
    }

    static synchronized NDManager manager() {
        if (manager == null) {
            manager = NDManager.newBaseManager();
        }
        return manager;
    }

    static LlamaConfig draftConfig() {
        return new LlamaConfig(32, 64, 1, 2, 2, 1e-6, 10000.0, VOCAB, 128, true, 1, 0);
    }

    static synchronized LlamaModel target() {
        if (target == null) {
            target = LlamaModel.of(LlamaWeights.random(new LlamaConfig(48, 96, 2, 4, 2, 1e-5, 10000.0, VOCAB, 128,
                    false, 1, 0), 11, 0.3, manager()));
        }
        return target;
    }

    static synchronized LlamaModel draft() {
        if (draft == null) {
            draft = LlamaModel.of(LlamaWeights.random(draftConfig(), 12, 0.3, manager()));
        }
        return draft;
    }
}
