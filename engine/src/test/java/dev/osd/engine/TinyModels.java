package dev.osd.engine;

import ai.djl.ndarray.NDManager;

/**
 * JVM-wide fixture: one NDManager and a few small random Llama models, built once and shared by every test
 * class of the engine, so the suite stays fast on two cores.
 */
public final class TinyModels {

    private static NDManager manager;
    private static LlamaModel target;
    private static LlamaModel draft;

    private TinyModels() {
    }

    public static synchronized NDManager manager() {
        if (manager == null) {
            manager = NDManager.newBaseManager();
        }
        return manager;
    }

    /** A 4-layer target with grouped-query attention (4 query heads over 2 key/value heads). */
    public static LlamaConfig targetConfig() {
        return LlamaConfig.builder()
                .setHiddenSize(64).setIntermediateSize(160).setNumHiddenLayers(4).setNumAttentionHeads(4)
                .optNumKeyValueHeads(2).setVocabSize(257).optMaxPositionEmbeddings(256).optBosTokenId(1)
                .optEosTokenId(0).build();
    }

    /** A 1-layer draft of the same vocabulary, tied embeddings, multi-head attention. */
    public static LlamaConfig draftConfig() {
        return LlamaConfig.builder()
                .setHiddenSize(32).setIntermediateSize(64).setNumHiddenLayers(1).setNumAttentionHeads(2)
                .optRmsNormEps(1e-6).setVocabSize(257).optMaxPositionEmbeddings(256).optTieWordEmbeddings(true)
                .optBosTokenId(1).optEosTokenId(0).build();
    }

    /** Random weights scaled so that the output distribution is far from uniform (clear argmaxes). */
    public static synchronized LlamaModel target() {
        if (target == null) {
            target = LlamaModel.of(LlamaWeights.random(targetConfig(), 7, 0.25, manager()));
        }
        return target;
    }

    public static synchronized LlamaModel draft() {
        if (draft == null) {
            draft = LlamaModel.of(LlamaWeights.random(draftConfig(), 11, 0.25, manager()));
        }
        return draft;
    }
}
