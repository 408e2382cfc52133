package dev.osd.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Speculative sampling (Leviathan et al. 2023, Chen et al. 2023): given k proposals drawn from the draft's
 * distributions q and the target's distributions p at the k+1 positions, accept proposal x_i with probability
 * min(1, p_i(x_i) / q_i(x_i)); at the first rejection draw from norm(max(p_i − q_i, 0)); if all k are accepted
 * draw a bonus token from p_{k+1}. The emitted tokens are then distributed exactly as the target's own
 * samples. With one-hot (greedy) p and q this reduces to "accept while the argmaxes agree".
 *
 * <p>q is sparse: zero outside its support (the draft's top N, renormalised, which is what it drew from), so
 * the residual is p itself outside the support and max(p − q, 0) on it, over the whole vocabulary.
 */
public final class SpeculativeVerifier {

    private static final SpeculativeVerifier LOSSLESS = new SpeculativeVerifier(true);

    private final boolean correctResidual;

    private SpeculativeVerifier(boolean correctResidual) {
        this.correctResidual = correctResidual;
    }

    public static SpeculativeVerifier lossless() {
        return LOSSLESS;
    }

    /**
     * A deliberately wrong verifier that resamples rejected positions from p instead of the residual. It
     * exists so that a test can show the distribution check detects a broken rejection step.
     */
    static SpeculativeVerifier withBrokenResidual() {
        return new SpeculativeVerifier(false);
    }

    /** As {@link #verify(int[], SparseDistribution[], double[][], SplittableRandom)} with whole-vocabulary q rows. */
    public Verification verify(int[] proposal, double[][] q, double[][] p, SplittableRandom random) {
        SparseDistribution[] sparse = new SparseDistribution[q.length];
        for (int i = 0; i < q.length; i++) {
            sparse[i] = SparseDistribution.of(q[i]);
        }
        return verify(proposal, sparse, p, random);
    }

    /**
     * @param proposal the k draft tokens
     * @param q the draft's distributions that the proposals were drawn from (k rows, zero outside their support)
     * @param p the target's shaped distributions at the same k positions plus one (k+1 whole-vocabulary rows)
     */
    public Verification verify(int[] proposal, SparseDistribution[] q, double[][] p, SplittableRandom random) {
        int k = proposal.length;
        if (q.length != k || p.length != k + 1) {
            throw new IllegalArgumentException("need k draft rows and k+1 target rows for k = " + k);
        }
        double[] expected = new double[k];
        for (int i = 0; i < k; i++) {
            for (int id : q[i].ids()) {
                if (id < 0 || id >= p[i].length) {
                    throw new IllegalArgumentException("draft row " + i + " names token " + id
                            + " outside the vocabulary of " + p[i].length);
                }
            }
            expected[i] = q[i].overlap(p[i]);
        }
        int[] emitted = new int[k + 1];
        for (int i = 0; i < k; i++) {
            int x = proposal[i];
            double pq = p[i][x];
            double qq = q[i].probability(x);
            if (qq <= 0) {
                throw new IllegalArgumentException("proposal " + i + " (token " + x + ") has zero draft probability");
            }
            boolean accept = pq >= qq || random.nextDouble() * qq < pq;
            if (accept) {
                emitted[i] = x;
                continue;
            }
            emitted[i] = correctResidual ? Sampler.draw(residual(p[i], q[i]), random) : Sampler.draw(p[i], random);
            return new Verification(k, i, Arrays.copyOf(emitted, i + 1), expected);
        }
        emitted[k] = Sampler.draw(p[k], random);
        return new Verification(k, k, emitted, expected);
    }

    /** norm(max(p − q, 0)); p itself when the two coincide (then no rejection can have happened). */
    static double[] residual(double[] p, double[] q) {
        return residual(p, SparseDistribution.of(q));
    }

    /** norm(max(p − q, 0)) over the whole vocabulary, q being 0 outside its support. */
    static double[] residual(double[] p, SparseDistribution q) {
        double[] r = p.clone();
        int[] ids = q.ids();
        double[] probs = q.probs();
        for (int i = 0; i < ids.length; i++) {
            r[ids[i]] = Math.max(p[ids[i]] - probs[i], 0);
        }
        double sum = 0;
        for (double x : r) {
            sum += x;
        }
        if (sum <= 0) {
            return p.clone();
        }
        for (int x = 0; x < r.length; x++) {
            r[x] /= sum;
        }
        return r;
    }
}
