package dev.osd.engine;

import java.util.Arrays;

/**
 * Verification for seeded requests ({@link SamplingParams#seeded()}): the target's token at each position is
 * the {@link CounterNoise} choice of (seed, position, p), and a draft token is accepted exactly when it equals
 * it; at the first mismatch the target's token is emitted instead, and after k matches the target's token at
 * the next position. The emitted tokens are therefore those target-only decoding with the same seed emits,
 * whatever the draft proposed: exact samples of the target, and repeatable across drafts and draft versions.
 */
public final class SeededVerifier {

    private SeededVerifier() {
    }

    /** As {@link #verify(int[], SparseDistribution[], double[][], long, int)} with whole-vocabulary q rows. */
    public static Verification verify(int[] proposal, double[][] q, double[][] p, long seed, int firstPosition) {
        SparseDistribution[] sparse = null;
        if (q != null) {
            sparse = new SparseDistribution[q.length];
            for (int i = 0; i < q.length; i++) {
                sparse[i] = SparseDistribution.of(q[i]);
            }
        }
        return verify(proposal, sparse, p, seed, firstPosition);
    }

    /**
     * @param proposal the k draft tokens, at positions {@code firstPosition}, {@code firstPosition + 1}, ...
     * @param q the draft's distributions (k rows, zero outside their support), for the expected-acceptance
     *     figure only; null leaves it NaN
     * @param p the target's shaped distributions at the same k positions plus one (k+1 rows)
     * @param seed the request's seed
     * @param firstPosition the sequence position of the first proposed token
     */
    public static Verification verify(int[] proposal, SparseDistribution[] q, double[][] p, long seed,
            int firstPosition) {
        int k = proposal.length;
        if (p.length != k + 1 || (q != null && q.length != k)) {
            throw new IllegalArgumentException("need k draft rows and k+1 target rows for k = " + k);
        }
        double[] expected = new double[k];
        for (int i = 0; i < k; i++) {
            expected[i] = q == null ? Double.NaN : q[i].overlap(p[i]);
        }
        int[] emitted = new int[k + 1];
        for (int i = 0; i <= k; i++) {
            emitted[i] = CounterNoise.choose(p[i], seed, firstPosition + i);
            if (i < k && emitted[i] != proposal[i]) {
                return new Verification(k, i, Arrays.copyOf(emitted, i + 1), expected);
            }
        }
        return new Verification(k, k, emitted, expected);
    }
}
