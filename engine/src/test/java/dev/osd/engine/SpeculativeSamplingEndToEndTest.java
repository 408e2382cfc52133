package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Real tiny models at temperature 1: speculation samples what the target alone would sample. */
class SpeculativeSamplingEndToEndTest {

    private static KvCachePool targetPool;
    private static KvCachePool draftPool;
    private static final int[] PROMPT = {1, 40, 77, 12, 200, 9};

    @BeforeAll
    static void pools() {
        targetPool = TinyModels.target().newCachePool(2, 64);
        draftPool = TinyModels.draft().newCachePool(2, 64);
    }

    @AfterAll
    static void release() {
        targetPool.close();
        draftPool.close();
    }

    private static double[] nextTokenDistribution(LlamaModel model, double temperature) {
        float[][] logits = CacheConsistencyTest.reference(model, PROMPT);
        return Sampler.distribution(logits[PROMPT.length - 1], SamplingParams.sample(temperature, 0));
    }

    /** Chi-square statistic of counts against expected probabilities, bins under 5 expected merged. */
    static double[] chiSquare(long[] counts, double[] p, long n) {
        double stat = 0;
        int bins = 0;
        double restExpected = 0;
        long restObserved = 0;
        for (int i = 0; i < p.length; i++) {
            double e = p[i] * n;
            if (e >= 5) {
                stat += (counts[i] - e) * (counts[i] - e) / e;
                bins++;
            } else {
                restExpected += e;
                restObserved += counts[i];
            }
        }
        if (restExpected > 0) {
            stat += (restObserved - restExpected) * (restObserved - restExpected) / Math.max(restExpected, 1e-9);
            bins++;
        }
        return new double[] {stat, bins - 1};
    }

    /** Upper 0.1% point of chi-square by the Wilson–Hilferty approximation. */
    static double critical(double df) {
        double z = 3.09;
        double a = 2 / (9 * df);
        return df * Math.pow(1 - a + z * Math.sqrt(a), 3);
    }

    /** The draft proposes from its top N renormalised (64, the serving default, and 4 of the 257 tokens). */
    @ParameterizedTest(name = "q top-{0}")
    @ValueSource(ints = {64, 4})
    void firstTokensMatchTargetOnlySampling(int topN) {
        SpeculativeDecoder spec = new SpeculativeDecoder(TinyModels.target(), targetPool, TinyModels.draft(),
                draftPool, null).withProposalTopN(topN);
        int runs = 4000;
        long[] counts = new long[257];
        long proposed = 0;
        for (int i = 0; i < runs; i++) {
            GenerationRequest r = new GenerationRequest(PROMPT, 3, SamplingParams.sample(1.0, 1000 + i), List.of(),
                    true, 2);
            GenerationResult g = spec.generate(r);
            counts[g.tokens()[0]]++;
            proposed += g.stats().draftTokens();
        }
        assertTrue(proposed >= 2L * runs, "each run must have speculated");
        double[] p = nextTokenDistribution(TinyModels.target(), 1.0);
        double[] q = nextTokenDistribution(TinyModels.draft(), 1.0);
        double[] fit = chiSquare(counts, p, runs);
        assertTrue(fit[0] < critical(fit[1]), "chi-square " + fit[0] + " on " + fit[1] + " df against target");
        double[] againstDraft = chiSquare(counts, q, runs);
        assertTrue(againstDraft[0] > critical(againstDraft[1]), "the test cannot tell target from draft");
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        SpeculativeDecoder spec = new SpeculativeDecoder(TinyModels.target(), targetPool, TinyModels.draft(),
                draftPool, null);
        GenerationRequest a = new GenerationRequest(PROMPT, 40, new SamplingParams(0.8, 50, 0.95, 42), List.of(),
                true, 3);
        int[] first = spec.generate(a).tokens();
        int[] second = spec.generate(a).tokens();
        assertArrayEquals(first, second);
        GenerationRequest b = new GenerationRequest(PROMPT, 40, new SamplingParams(0.8, 50, 0.95, 43), List.of(),
                true, 3);
        assertNotEquals(java.util.Arrays.toString(first), java.util.Arrays.toString(spec.generate(b).tokens()));
        SpeculativeDecoder plain = SpeculativeDecoder.targetOnly(TinyModels.target(), targetPool, null);
        assertArrayEquals(plain.generate(a).tokens(), plain.generate(a).tokens());
    }

    @Test
    void aDraftThatFailsLeavesTheRequestTargetOnly() {
        int[] expected = SpeculativeDecoder.targetOnly(TinyModels.target(), targetPool, null)
                .generate(new GenerationRequest(PROMPT, 30, SamplingParams.GREEDY, List.of(), true, 0)).tokens();
        LlamaModel draft = TinyModels.draft();
        KvCachePool doomed = draft.newCachePool(1, 64);
        SpeculativeDecoder spec = new SpeculativeDecoder(TinyModels.target(), targetPool, draft, doomed, null);
        List<int[]> streamed = new ArrayList<>();
        GenerationResult r = spec.generate(new GenerationRequest(PROMPT, 30, SamplingParams.GREEDY, List.of(), true,
                3), new GenerationListener() {
                    @Override
                    public void onTokens(int[] tokens) {
                        streamed.add(tokens);
                        doomed.close(); // the draft's memory vanishes mid-request
                    }
                });
        assertArrayEquals(expected, r.tokens());
        assertEquals(1, r.stats().draftFailures());
        assertEquals(30, streamed.stream().mapToInt(t -> t.length).sum());
    }

    @Test
    void stopsAtEosAndAtMaxTokens() {
        SpeculativeDecoder plain = new SpeculativeDecoder(TinyModels.target(), targetPool, TinyModels.draft(),
                draftPool, null);
        GenerationResult free = plain.generate(new GenerationRequest(PROMPT, 50, SamplingParams.GREEDY, List.of(),
                true, 3));
        assertEquals(FinishReason.LENGTH, free.finishReason());
        assertEquals(50, free.tokens().length);
        // make the 5th generated token the end of sequence by building a model whose eos is that token
        int eos = free.tokens()[4];
        LlamaConfig withEos = TinyModels.targetConfig().toBuilder().optEosTokenId(eos).build();
        try (LlamaModel target = LlamaModel.of(LlamaWeights.fromHost(withEos, TinyModels.target().weights().toHost(),
                java.nio.file.Path.of("copy"), TinyModels.manager())); KvCachePool pool = target.newCachePool(1, 64)) {
            SpeculativeDecoder dec = new SpeculativeDecoder(target, pool, TinyModels.draft(), draftPool, null);
            GenerationResult r = dec.generate(new GenerationRequest(PROMPT, 50, SamplingParams.GREEDY, List.of(),
                    false, 3));
            assertEquals(FinishReason.STOP, r.finishReason());
            int firstEos = 0;
            while (free.tokens()[firstEos] != eos) {
                firstEos++;
            }
            assertArrayEquals(java.util.Arrays.copyOf(free.tokens(), firstEos), r.tokens());
        }
    }
}
