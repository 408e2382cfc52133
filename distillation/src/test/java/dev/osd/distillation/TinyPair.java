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
        return LlamaConfig.builder()
                .setHiddenSize(32).setIntermediateSize(64).setNumHiddenLayers(1).setNumAttentionHeads(2)
                .optRmsNormEps(1e-6).setVocabSize(VOCAB).optMaxPositionEmbeddings(128)
                .optTieWordEmbeddings(true).optBosTokenId(1).optEosTokenId(0).build();
    }

    static synchronized LlamaModel target() {
        if (target == null) {
            target = LlamaModel.of(LlamaWeights.random(LlamaConfig.builder()
                    .setHiddenSize(48).setIntermediateSize(96).setNumHiddenLayers(2).setNumAttentionHeads(4)
                    .optNumKeyValueHeads(2).setVocabSize(VOCAB).optMaxPositionEmbeddings(128).optBosTokenId(1)
                    .optEosTokenId(0).build(), 11, 0.3, manager()));
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
