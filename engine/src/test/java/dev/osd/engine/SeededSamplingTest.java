package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Seeded sampling by counter noise: an exact sample of p over seeds, and for one seed a function of the
 * target alone, the same with speculation off, with either of two drafts and any proposal length.
 */
class SeededSamplingTest {

    private static final int SAMPLES = 100_000;
    private static final int[] PROMPT = {1, 40, 77, 12, 200, 9};

    @Test
    void theNoiseIsGumbelMaxOverAUniformCounterHash() {
        double sum = 0;
        for (int t = 0; t < 10_000; t++) {
            double u = CounterNoise.uniform(7, 3, t);
            assertTrue(u > 0 && u < 1);
            sum += u;
        }
        assertEquals(0.5, sum / 10_000, 0.01);
        assertNotEquals(CounterNoise.uniform(7, 3, 5), CounterNoise.uniform(7, 4, 5));
        assertNotEquals(CounterNoise.uniform(7, 3, 5), CounterNoise.uniform(8, 3, 5));
        // the choice is argmax(log p + Gumbel), computed here the plain way
        double[] p = {0.1, 0.0, 0.4, 0.2, 0.3};
        for (int position = 0; position < 500; position++) {
            int best = -1;
            double bestScore = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < p.length; i++) {
                double score = Math.log(p[i]) + CounterNoise.gumbel(42, position, i);
                if (p[i] > 0 && score > bestScore) {
                    bestScore = score;
                    best = i;
                }
            }
            assertEquals(best, CounterNoise.choose(p, 42, position));
        }
    }

    @Test
    void theSeededVerifierEmitsExactSamplesOfTheTargetOverSeeds() {
        SamplingParams params = new SamplingParams(1.0, 0, 1, 0);
        double[] p1 = Sampler.distribution(new float[] {2.0f, 1.5f, 0.2f, -0.5f, 1.0f, -1.0f, 0.0f, 0.7f}, params);
        double[] p2 = Sampler.distribution(new float[] {0.1f, -0.3f, 1.2f, 0.4f, 0.0f, 0.9f, -1.1f, 0.3f}, params);
        double[] q1 = Sampler.distribution(new float[] {0.0f, 2.2f, 1.0f, 0.5f, -0.5f, 0.8f, 1.5f, -1.0f}, params);
        double[] q2 = Sampler.distribution(new float[] {1.0f, 0.1f, -0.4f, 1.3f, 0.2f, 0.0f, 0.6f, 0.5f}, params);
        double[] first = new double[8];
        double[] second = new double[8];
        int seconds = 0;
        long accepted = 0;
        long acceptedByRejection = 0;
        SplittableRandom random = new SplittableRandom(5);
        for (long seed = 0; seed < SAMPLES; seed++) {
            int[] proposal = {CounterNoise.choose(q1, seed, 10), CounterNoise.choose(q2, seed, 11)};
            Verification v = SeededVerifier.verify(proposal, new double[][] {q1, q2}, new double[][] {p1, p2, p2},
                    seed, 10);
            first[v.emitted()[0]]++;
            if (v.emitted().length > 1) {
                second[v.emitted()[1]]++;
                seconds++;
            }
            assertEquals(CounterNoise.choose(p1, seed, 10), v.emitted()[0], "the target's own token, whatever q");
            accepted += v.accepted();
            int[] drawn = {Sampler.draw(q1, random), Sampler.draw(q2, random)};
            acceptedByRejection += SpeculativeVerifier.lossless().verify(drawn, new double[][] {q1, q2},
                    new double[][] {p1, p2, p2}, random).accepted();
        }
        for (int i = 0; i < 8; i++) {
            first[i] /= SAMPLES;
            second[i] /= seconds;
        }
        double bound = RejectionSamplingDistributionTest.bound(p1);
        assertTrue(RejectionSamplingDistributionTest.tvd(first, p1) < bound, "first position off p");
        assertTrue(RejectionSamplingDistributionTest.tvd(first, q1) > 20 * RejectionSamplingDistributionTest.tvd(
                first, p1), "cannot tell p from q");
        // the second token is emitted only when the first was accepted: given that, it is still p2's sample
        assertTrue(RejectionSamplingDistributionTest.tvd(second, p2) < 4 * bound * Math.sqrt((double) SAMPLES
                / seconds), "second position off p");
        System.out.printf("seeded verifier, 8 tokens, k = 2: accepted %.3f per round by counter noise, %.3f by "
                + "rejection sampling%n", (double) accepted / SAMPLES, (double) acceptedByRejection / SAMPLES);
    }

    @Test
    void oneSeedGivesTheSameTokensWithEitherDraftAnyKAndWithoutSpeculation() {
        try (LlamaModel other = LlamaModel.of(LlamaWeights.random(TinyModels.draftConfig(), 12, 0.25,
                TinyModels.manager()));
                KvCachePool targetPool = TinyModels.target().newCachePool(1, 128);
                KvCachePool draftPool = TinyModels.draft().newCachePool(1, 128);
                KvCachePool otherPool = other.newCachePool(1, 128)) {
            for (LogitsShaping shaping : List.of(LogitsShaping.NONE, ShapedSpeculativeSamplingTest.shaping())) {
                SamplingParams seeded = new SamplingParams(0.9, 50, 0.95, 42, shaping, true);
                GenerationRequest plain = new GenerationRequest(PROMPT, 60, seeded, List.of(), true, 0);
                int[] expected = SpeculativeDecoder.targetOnly(TinyModels.target(), targetPool, null).generate(plain)
                        .tokens();
                long accepted = 0;
                for (int k : new int[] {1, 3, 5}) {
                    GenerationRequest r = new GenerationRequest(PROMPT, 60, seeded, List.of(), true, k);
                    GenerationResult a = new SpeculativeDecoder(TinyModels.target(), targetPool, TinyModels.draft(),
                            draftPool, null).generate(r);
                    GenerationResult b = new SpeculativeDecoder(TinyModels.target(), targetPool, other, otherPool,
                            null).generate(r);
                    assertArrayEquals(expected, a.tokens(), "draft A, k = " + k + ", " + shaping);
                    assertArrayEquals(expected, b.tokens(), "draft B, k = " + k + ", " + shaping);
                    assertTrue(a.stats().draftTokens() > 0 && b.stats().draftTokens() > 0);
                    accepted += a.stats().acceptedTokens() + b.stats().acceptedTokens();
                }
                assertTrue(accepted > 0, "the drafts never agreed: the test would not see a wrong acceptance");
                GenerationRequest otherSeed = new GenerationRequest(PROMPT, 60, new SamplingParams(0.9, 50, 0.95, 43,
                        shaping, true), List.of(), true, 3);
                assertNotEquals(Arrays.toString(expected), Arrays.toString(new SpeculativeDecoder(TinyModels.target(),
                        targetPool, TinyModels.draft(), draftPool, null).generate(otherSeed).tokens()));
            }
        }
    }
}
