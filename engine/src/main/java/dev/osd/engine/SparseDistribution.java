package dev.osd.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A distribution over a vocabulary that is zero outside a small support: the draft's proposal distribution q
 * as it travels (its top N, renormalised), N tokens and N probabilities whatever the vocabulary. The draft
 * draws its proposals from exactly this distribution, so verifying against it is exact.
 *
 * @param ids the support, most probable first (ties by token id)
 * @param probs their probabilities, summing to one
 */
public record SparseDistribution(int[] ids, double[] probs) {

    public SparseDistribution {
        if (ids.length != probs.length || ids.length == 0) {
            throw new IllegalArgumentException("a sparse distribution needs as many probabilities as ids, and one");
        }
    }

    /**
     * The {@code n} most probable entries of {@code dense} (ties by token id), renormalised; entries of
     * probability 0 are never kept, so a one-hot (greedy) distribution stays one-hot. n 0 or above the vocabulary
     * keeps every non-zero entry.
     */
    public static SparseDistribution topN(double[] dense, int n) {
        int support = 0;
        for (double p : dense) {
            if (p > 0) {
                support++;
            }
        }
        if (support == 0) {
            throw new IllegalArgumentException("distribution has no mass");
        }
        int keep = n <= 0 ? support : Math.min(n, support);
        int[] ids = TopN.indices(dense, keep);
        double[] probs = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            probs[i] = dense[ids[i]];
            sum += probs[i];
        }
        for (int i = 0; i < keep; i++) {
            probs[i] /= sum;
        }
        return new SparseDistribution(ids, probs);
    }

    /** Every non-zero entry of {@code dense}, as it is (no renormalisation). */
    public static SparseDistribution of(double[] dense) {
        return topN(dense, 0).withProbabilitiesOf(dense);
    }

    private SparseDistribution withProbabilitiesOf(double[] dense) {
        double[] p = new double[ids.length];
        for (int i = 0; i < ids.length; i++) {
            p[i] = dense[ids[i]];
        }
        return new SparseDistribution(ids, p);
    }

    /** q(token): 0 outside the support. */
    public double probability(int token) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == token) {
                return probs[i];
            }
        }
        return 0;
    }

    /** Draws a token (the last entry absorbs rounding). */
    public int draw(SplittableRandom random) {
        double u = random.nextDouble();
        double cumulative = 0;
        for (int i = 0; i < ids.length; i++) {
            cumulative += probs[i];
            if (u < cumulative) {
                return ids[i];
            }
        }
        return ids[ids.length - 1];
    }

    /** Σ_x min(p(x), q(x)), the probability this q's proposal is accepted against p: 1 − TVD(p, q). */
    public double overlap(double[] p) {
        double s = 0;
        for (int i = 0; i < ids.length; i++) {
            s += Math.min(p[ids[i]], probs[i]);
        }
        return s;
    }

    /** The whole-vocabulary row (tests and diagnostics). */
    public double[] dense(int vocab) {
        double[] d = new double[vocab];
        for (int i = 0; i < ids.length; i++) {
            d[ids[i]] = probs[i];
        }
        return d;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SparseDistribution s && Arrays.equals(ids, s.ids) && Arrays.equals(probs, s.probs);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + Arrays.hashCode(probs);
    }

    @Override
    public String toString() {
        return "SparseDistribution" + Arrays.toString(ids) + Arrays.toString(probs);
    }
}
