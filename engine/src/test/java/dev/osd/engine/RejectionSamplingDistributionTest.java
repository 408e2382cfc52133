package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Speculative sampling must emit tokens distributed exactly as the target's shaped distribution p, whatever
 * the draft's q. Checked empirically on a small vocabulary with 100,000 rounds, under several sampling
 * settings; and a verifier with a broken residual step must fail the same check.
 */
class RejectionSamplingDistributionTest {

    private static final int SAMPLES = 100_000;
    // target and draft logits over 8 tokens, deliberately different
    private static final float[] TARGET = {2.0f, 1.5f, 0.2f, -0.5f, 1.0f, -1.0f, 0.0f, 0.7f};
    private static final float[] TARGET_NEXT = {0.1f, -0.3f, 1.2f, 0.4f, 0.0f, 0.9f, -1.1f, 0.3f};
    private static final float[] DRAFT = {0.0f, 2.2f, 1.0f, 0.5f, -0.5f, 0.8f, 1.5f, -1.0f};
    private static final float[] DRAFT_NEXT = {1.0f, 0.1f, -0.4f, 1.3f, 0.2f, 0.0f, 0.6f, 0.5f};

    /**
     * Every setting with the draft's whole distribution (top-n 0) and with its top 3 of 8 renormalised, the sparse
     * q the serving path sends: the draft then never proposes 5 of the 8 tokens, and the residual alone must
     * give them their target probability.
     */
    static Stream<Arguments> settings() {
        return Stream.of(0, 3).flatMap(n -> Stream.of(
                Arguments.of("temperature 1.0, q top-" + n, new SamplingParams(1.0, 0, 1, 1), n),
                Arguments.of("temperature 0.7, q top-" + n, new SamplingParams(0.7, 0, 1, 2), n),
                Arguments.of("top-k 4, q top-" + n, new SamplingParams(1.0, 4, 1, 3), n),
                Arguments.of("top-p 0.8, q top-" + n, new SamplingParams(0.9, 0, 0.8, 4), n)));
    }

    /**
     * Empirical distribution of the first emitted token over many two-token proposals, each drawn from the draft's
     * rows cut to their top {@code topN} (0: whole) exactly as the draft actor draws them.
     */
    static double[] firstTokenFrequencies(SpeculativeVerifier verifier, SamplingParams params, long seed, int topN) {
        double[] p1 = Sampler.distribution(TARGET, params);
        double[] p2 = Sampler.distribution(TARGET_NEXT, params);
        double[] p3 = Sampler.distribution(DRAFT_NEXT, params); // target's bonus row, any distribution
        SparseDistribution q1 = Proposal.row(DRAFT, params, topN);
        SparseDistribution q2 = Proposal.row(DRAFT_NEXT, params, topN);
        SplittableRandom random = new SplittableRandom(seed);
        double[] counts = new double[TARGET.length];
        for (int n = 0; n < SAMPLES; n++) {
            int[] proposal = {q1.draw(random), q2.draw(random)};
            Verification v = verifier.verify(proposal, new SparseDistribution[] {q1, q2},
                    new double[][] {p1, p2, p3}, random);
            counts[v.emitted()[0]]++;
        }
        for (int i = 0; i < counts.length; i++) {
            counts[i] /= SAMPLES;
        }
        return counts;
    }

    static double tvd(double[] a, double[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d += Math.abs(a[i] - b[i]);
        }
        return d / 2;
    }

    /**
     * A bound the empirical TVD stays under with overwhelming probability: E|p̂_i − p_i| ≤ sqrt(p_i(1−p_i)/n),
     * so E[TVD] ≤ ½ Σ sqrt(p_i(1−p_i)/n); four times that is a safe margin for a fixed-seed test.
     */
    static double bound(double[] p) {
        double sum = 0;
        for (double pi : p) {
            sum += Math.sqrt(pi * (1 - pi) / SAMPLES);
        }
        return 4 * 0.5 * sum;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("settings")
    void emittedTokensFollowTheTarget(String name, SamplingParams params, int topN) {
        double[] p = Sampler.distribution(TARGET, params);
        double[] q = Proposal.row(DRAFT, params, topN).dense(TARGET.length);
        double[] empirical = firstTokenFrequencies(SpeculativeVerifier.lossless(), params, params.seed(), topN);
        double toTarget = tvd(empirical, p);
        double toDraft = tvd(empirical, q);
        assertTrue(toTarget < bound(p), name + ": TVD to p " + toTarget + " exceeds " + bound(p));
        assertTrue(toDraft > 20 * toTarget, name + ": TVD to q " + toDraft + " not far above TVD to p " + toTarget);
        for (int i = 0; i < p.length; i++) {
            if (p[i] == 0) {
                assertEquals(0, empirical[i], name + ": token " + i + " is outside top-k/top-p but was emitted");
            }
        }
    }

    @ParameterizedTest(name = "q top-{0}")
    @ValueSource(ints = {0, 3})
    void aBrokenResidualStepIsCaught(int topN) {
        SamplingParams params = new SamplingParams(1.0, 0, 1, 1);
        double[] p = Sampler.distribution(TARGET, params);
        double[] empirical = firstTokenFrequencies(SpeculativeVerifier.withBrokenResidual(), params, 1, topN);
        double toTarget = tvd(empirical, p);
        assertTrue(toTarget > 3 * bound(p), "the broken verifier went unnoticed: TVD " + toTarget
                + " bound " + bound(p));
    }

    @Test
    void aSparseProposalRowIsItsTopNRenormalised() {
        SamplingParams params = SamplingParams.sample(1.0, 0);
        double[] dense = Sampler.distribution(DRAFT, params);
        SparseDistribution q = Proposal.row(DRAFT, params, 3);
        assertArrayEquals(new int[] {1, 6, 2}, q.ids());
        double kept = dense[1] + dense[6] + dense[2];
        assertEquals(dense[1] / kept, q.probs()[0], 1e-15);
        assertEquals(1.0, q.probs()[0] + q.probs()[1] + q.probs()[2], 1e-12);
        assertEquals(0, q.probability(0));
        // a greedy row stays one-hot whatever N
        assertArrayEquals(new int[] {1}, Proposal.row(DRAFT, SamplingParams.GREEDY, 64).ids());
    }

    @Test
    void theSparseResidualGivesPItsMassOutsideTheSupport() {
        double[] p = {0.5, 0.3, 0.2};
        SparseDistribution q = new SparseDistribution(new int[] {0}, new double[] {1.0});
        double[] r = SpeculativeVerifier.residual(p, q);
        assertEquals(0, r[0], 0);
        assertEquals(0.3 / 0.5, r[1], 1e-12);
        assertEquals(0.2 / 0.5, r[2], 1e-12);
    }

    @Test
    void expectedAcceptanceIsTheOverlapOfPAndQ() {
        double[] p = {0.5, 0.3, 0.2};
        double[] q = {0.2, 0.2, 0.6};
        Verification v = SpeculativeVerifier.lossless().verify(new int[] {2}, new double[][] {q},
                new double[][] {p, p}, new SplittableRandom(1));
        assertEquals(0.2 + 0.2 + 0.2, v.expectedAcceptance()[0], 1e-12);
    }

    @Test
    void residualIsNormalisedPositivePart() {
        double[] r = SpeculativeVerifier.residual(new double[] {0.5, 0.3, 0.2}, new double[] {0.2, 0.2, 0.6});
        assertEquals(0.3 / 0.4, r[0], 1e-12);
        assertEquals(0.1 / 0.4, r[1], 1e-12);
        assertEquals(0, r[2], 0);
    }
}
