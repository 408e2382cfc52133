package dev.osd.engine;

import static dev.osd.engine.SpeculativeSamplingEndToEndTest.chiSquare;
import static dev.osd.engine.SpeculativeSamplingEndToEndTest.critical;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.function.LongFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Speculative sampling under history-dependent logits shaping reproduces the shaped target distribution, with
 * rejection sampling (unseeded) and with counter noise (seeded, a different seed per run). With the tiny draft:
 * the first token against the shaped p after the prompt, told apart from the draft's. With the target as its
 * own draft (so nearly every proposal is accepted and the second token comes from the verification's second
 * row, shaped over the first proposal): the second token, given a frequent first token, against the shaped p
 * after prompt + that token, and the repeats the (negative) penalties make likely, which a sampler that left
 * the proposal out of the history would not produce.
 */
class ShapedSpeculativeSamplingTest {

    private static final int[] PROMPT = {1, 40, 77, 12, 200, 9};
    private static final int RUNS = 4000;
    private static KvCachePool targetPool;
    private static KvCachePool draftPool;
    private static KvCachePool selfDraftPool;

    @BeforeAll
    static void pools() {
        targetPool = TinyModels.target().newCachePool(1, 64);
        draftPool = TinyModels.draft().newCachePool(1, 64);
        selfDraftPool = TinyModels.target().newCachePool(1, 64);
    }

    @AfterAll
    static void release() {
        targetPool.close();
        draftPool.close();
        selfDraftPool.close();
    }

    static LogitsShaping shaping() {
        // negative penalties (OpenAI allows down to -2) make a repeat of the first token likely, so the second
        // token shows whether the history held it
        return LogitsShaping.of(new int[] {5, 17}, new float[] {4.0f, -2.0f}, -2.0, -2.0, 1.3, 0, 0, null);
    }

    /** The shaped distribution a model gives the token after {@code context}, over {@code history} tokens of it. */
    private static double[] shaped(LlamaModel model, int[] context, int history, SamplingParams s) {
        float[][] logits = CacheConsistencyTest.reference(model, context);
        SamplingParams bound = s.withShaping(s.shaping().bind(PROMPT.length, new int[0]));
        return Sampler.distribution(logits[context.length - 1], bound, context, history);
    }

    private static int[][] run(LlamaModel draft, KvCachePool pool, LongFunction<SamplingParams> perRun) {
        SpeculativeDecoder spec = new SpeculativeDecoder(TinyModels.target(), targetPool, draft, pool, null);
        int[][] out = new int[RUNS][];
        long proposed = 0;
        for (int i = 0; i < RUNS; i++) {
            GenerationResult g = spec.generate(new GenerationRequest(PROMPT, 3, perRun.apply(1000 + i), List.of(),
                    true, 2));
            out[i] = g.tokens();
            proposed += g.stats().draftTokens();
        }
        assertTrue(proposed >= 2L * RUNS, "each run must have speculated");
        return out;
    }

    private static long[] firstTokens(int[][] runs) {
        long[] first = new long[257];
        for (int[] tokens : runs) {
            first[tokens[0]]++;
        }
        return first;
    }

    private static void check(LongFunction<SamplingParams> perRun) {
        SamplingParams s = perRun.apply(0);
        double[] p = shaped(TinyModels.target(), PROMPT, PROMPT.length, s);
        long[] first = firstTokens(run(TinyModels.draft(), draftPool, perRun));
        double[] fit = chiSquare(first, p, RUNS);
        assertTrue(fit[0] < critical(fit[1]), "first token: chi-square " + fit[0] + " on " + fit[1] + " df");
        double[] q = shaped(TinyModels.draft(), PROMPT, PROMPT.length, s);
        double[] againstDraft = chiSquare(first, q, RUNS);
        assertTrue(againstDraft[0] > critical(againstDraft[1]), "the test cannot tell target from draft");

        int[][] runs = run(TinyModels.target(), selfDraftPool, perRun);
        first = firstTokens(runs);
        // of the frequent first tokens, the one the penalties most make repeat: the strictest check of the history
        int t0 = -1;
        double[] p2 = null;
        double[] forgetful = null;
        for (int t = 0; t < first.length; t++) {
            if (first[t] >= 150) {
                int[] context = Arrays.copyOf(PROMPT, PROMPT.length + 1);
                context[PROMPT.length] = t;
                double[] candidate = shaped(TinyModels.target(), context, context.length, s);
                if (t0 < 0 || candidate[t] * first[t] > p2[t0] * first[t0]) {
                    t0 = t;
                    p2 = candidate;
                    forgetful = shaped(TinyModels.target(), context, PROMPT.length, s);
                }
            }
        }
        assertTrue(t0 >= 0, "no first token came 150 times");
        long[] second = new long[257];
        for (int[] tokens : runs) {
            if (tokens[0] == t0) {
                second[tokens[1]]++;
            }
        }
        long n = first[t0];
        double[] fit2 = chiSquare(second, p2, n);
        assertTrue(fit2[0] < critical(fit2[1]), "second token after " + t0 + " (" + n + " runs): chi-square "
                + fit2[0] + " on " + fit2[1] + " df");
        double expected = p2[t0] * n;
        double missed = forgetful[t0] * n;
        String figures = "token " + t0 + " repeated in " + second[t0] + " of " + n + " runs, shaped p " + p2[t0]
                + ", forgetful " + forgetful[t0];
        assertTrue(Math.abs(second[t0] - expected) < 4 * Math.sqrt(expected) + 1, figures);
        assertTrue(expected > 2 * missed + 8 * Math.sqrt(missed + 1), "the test cannot tell a forgetful history: "
                + figures);
    }

    @Test
    void rejectionSamplingReproducesTheShapedTarget() {
        check(seed -> new SamplingParams(1.0, 0, 1, seed, shaping(), false));
    }

    @Test
    void counterNoiseReproducesTheShapedTargetOverSeeds() {
        check(seed -> new SamplingParams(1.0, 0, 1, seed, shaping(), true));
    }
}
