package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** At temperature 0, speculation must reproduce target-only greedy decoding token for token. */
class GreedyEqualityTest {

    private static final int PROMPTS = 20;
    private static final int TOKENS = 64;
    private static KvCachePool targetPool;
    private static KvCachePool draftPool;
    private static KvCachePool selfDraftPool;
    private static List<int[]> prompts;
    private static List<int[]> expected;

    @BeforeAll
    static void targetOnly() {
        LlamaModel target = TinyModels.target();
        targetPool = target.newCachePool(2, 160);
        draftPool = TinyModels.draft().newCachePool(2, 160);
        selfDraftPool = target.newCachePool(2, 160);
        prompts = new ArrayList<>();
        expected = new ArrayList<>();
        SpeculativeDecoder plain = SpeculativeDecoder.targetOnly(target, targetPool, null);
        for (int i = 0; i < PROMPTS; i++) {
            int[] prompt = CacheConsistencyTest.randomTokens(100 + i, 3 + i % 17, 257);
            prompt[0] = 1;
            prompts.add(prompt);
            GenerationResult r = plain.generate(request(prompt, 0));
            assertEquals(0, r.stats().draftTokens());
            expected.add(r.tokens());
        }
    }

    @AfterAll
    static void release() {
        targetPool.close();
        draftPool.close();
        selfDraftPool.close();
    }

    private static GenerationRequest request(int[] prompt, int k) {
        return new GenerationRequest(prompt, TOKENS, SamplingParams.GREEDY, List.of(), true, k);
    }

    @Test
    void unrelatedDraftChangesNothingButSpeed() {
        SpeculativeDecoder spec = new SpeculativeDecoder(TinyModels.target(), targetPool, TinyModels.draft(),
                draftPool, null);
        int proposed = 0;
        for (int k : new int[] {1, 3, 5}) {
            for (int i = 0; i < PROMPTS; i++) {
                GenerationResult r = spec.generate(request(prompts.get(i), k));
                assertArrayEquals(expected.get(i), r.tokens(), "prompt " + i + " with k = " + k);
                proposed += r.stats().draftTokens();
            }
        }
        assertTrue(proposed > 0, "speculation must really have run");
    }

    @Test
    void targetAsItsOwnDraftIsAlmostAlwaysAccepted() {
        LlamaModel target = TinyModels.target();
        SpeculativeDecoder spec = new SpeculativeDecoder(target, targetPool, target, selfDraftPool, null);
        long proposed = 0;
        long accepted = 0;
        for (int i = 0; i < PROMPTS; i++) {
            GenerationResult r = spec.generate(request(prompts.get(i), 4));
            assertArrayEquals(expected.get(i), r.tokens(), "prompt " + i);
            proposed += r.stats().draftTokens();
            accepted += r.stats().acceptedTokens();
        }
        double alpha = (double) accepted / proposed;
        assertTrue(alpha >= 0.98, "draft = target acceptance " + alpha);
    }

    @Test
    void brokenDraftStillGivesTheTargetsTokens() {
        // a draft whose output head is zero proposes token 0 forever: only acceptance may suffer
        LlamaConfig c = TinyModels.draftConfig();
        var host = TinyModels.draft().weights().toHost();
        host.put("model.embed_tokens.weight", new SafeTensors.Tensor(host.get("model.embed_tokens.weight").shape(),
                new float[host.get("model.embed_tokens.weight").values().length]));
        try (LlamaModel broken = LlamaModel.of(LlamaWeights.fromHost(c, host, java.nio.file.Path.of("zeroed"),
                TinyModels.manager())); KvCachePool pool = broken.newCachePool(1, 160)) {
            SpeculativeDecoder spec = new SpeculativeDecoder(TinyModels.target(), targetPool, broken, pool, null);
            for (int i = 0; i < 5; i++) {
                assertArrayEquals(expected.get(i), spec.generate(request(prompts.get(i), 3)).tokens());
            }
        }
    }
}
