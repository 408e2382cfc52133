package dev.osd.actors;

import ai.djl.ndarray.NDManager;
import dev.osd.drafts.DraftVersion;
import dev.osd.drafts.LiveDraft;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculativeDecoder;

/**
 * The small random target and draft the actor tests serve, and target-only decoding to compare with, on a
 * manager of their own: each test class opens one and closes it when its actors are gone. The seeds are fixed,
 * so every class serves the same models.
 */
final class ServingModels implements AutoCloseable {

    final NDManager manager;
    final LlamaModel target;
    /** An unrelated random draft: it is seldom accepted, so requests exercise rejections and corrections. */
    final LlamaModel draft;
    private final KvCachePool plainPool;

    ServingModels() {
        manager = NDManager.newBaseManager();
        target = LlamaModel.of(LlamaWeights.random(LlamaConfig.builder()
                .setHiddenSize(48).setIntermediateSize(96).setNumHiddenLayers(2).setNumAttentionHeads(4)
                .optNumKeyValueHeads(2).setVocabSize(64).optMaxPositionEmbeddings(128).optBosTokenId(1)
                .optEosTokenId(0).build(), 21, 0.3, manager));
        draft = LlamaModel.of(LlamaWeights.random(LlamaConfig.builder()
                .setHiddenSize(32).setIntermediateSize(64).setNumHiddenLayers(1).setNumAttentionHeads(2)
                .optRmsNormEps(1e-6).setVocabSize(64).optMaxPositionEmbeddings(128).optTieWordEmbeddings(true)
                .optBosTokenId(1).optEosTokenId(0).build(), 22, 0.3, manager));
        plainPool = target.newCachePool(1);
    }

    static int[] prompt(int i) {
        return new int[] {1, 3 + i % 50, 20 + i % 13, 9};
    }

    /** Request {@code i}: 24 tokens at temperature 0, proposals of {@code k}. */
    static GenerationRequest greedy(int i, int k) {
        return new GenerationRequest(prompt(i), 24, SamplingParams.GREEDY, null, true, k);
    }

    /** The target-only tokens for {@code r}: what speculation must reproduce at temperature 0. */
    synchronized int[] plain(GenerationRequest r) {
        return SpeculativeDecoder.targetOnly(target, plainPool, null).generate(r).tokens();
    }

    /** A live draft named {@code name} serving a copy of the draft's weights as version 0. */
    LiveDraft live(String name) {
        return new LiveDraft(new DraftVersion(name, 0, -1, LlamaModel.of(draft.weights().copy(manager))));
    }

    @Override
    public void close() {
        plainPool.close();
        draft.close();
        target.close();
        manager.close();
    }
}
