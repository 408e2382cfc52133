package dev.osd.engine;

/**
 * Seeded sampling that depends on nothing but (seed, position, distribution): the Gumbel-max trick with noise
 * from a counter-based generator. The token at sequence position t is argmax_i(log p_i + G(seed, t, i)), where
 * G is standard Gumbel noise hashed from the seed, the position and the token id (SplitMix64's finaliser).
 * Because the noise of each (position, token) is independent of every other, the token is an exact sample of p,
 * and the sequence an exact sample of the model's autoregressive distribution, over the seed; for one seed it
 * is a fixed function of the target's distributions alone: a draft that proposes the same tokens, or none at
 * all, cannot change it. A draft proposes argmax(log q + the same noise), so it agrees with the target as
 * often as its q lets it.
 *
 * <p>Computed as argmin_i(E_i / p_i) with E_i = −log U_i exponential, which orders tokens exactly as
 * log p_i − log E_i = log p_i + G_i does, at one logarithm a token.
 */
public final class CounterNoise {

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private CounterNoise() {
    }

    /** SplitMix64's finaliser (Stafford's mix 13): a bijection of 64-bit words that mixes every bit. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The key of one position: every token's uniform at that position derives from it. */
    static long positionKey(long seed, int position) {
        return mix(mix(seed ^ GOLDEN) + GOLDEN * (position + 1L));
    }

    /** The uniform in (0, 1) of a token at a position (53 bits, never 0 or 1). */
    public static double uniform(long seed, int position, int token) {
        return uniform(positionKey(seed, position), token);
    }

    private static double uniform(long key, int token) {
        long bits = mix(key + GOLDEN * (token + 1L));
        return ((bits >>> 11) + 0.5) * 0x1.0p-53;
    }

    /** The standard Gumbel noise of a token at a position. */
    public static double gumbel(long seed, int position, int token) {
        return -Math.log(-Math.log(uniform(seed, position, token)));
    }

    /**
     * The token at {@code position} for this seed: argmax over the tokens with p_i > 0 of log p_i + Gumbel noise.
     */
    public static int choose(double[] p, long seed, int position) {
        long key = positionKey(seed, position);
        int best = -1;
        double bestRatio = Double.POSITIVE_INFINITY;
        for (int i = 0; i < p.length; i++) {
            if (p[i] > 0) {
                double ratio = -Math.log(uniform(key, i)) / p[i];
                if (ratio < bestRatio) {
                    bestRatio = ratio;
                    best = i;
                }
            }
        }
        if (best < 0) {
            throw new IllegalArgumentException("distribution has no mass");
        }
        return best;
    }

    /**
     * {@link #choose(double[], long, int)} over a sparse row: the same token as over its whole-vocabulary form,
     * since each token's noise depends on its id alone.
     */
    public static int choose(SparseDistribution q, long seed, int position) {
        long key = positionKey(seed, position);
        int[] ids = q.ids();
        double[] probs = q.probs();
        int best = -1;
        double bestRatio = Double.POSITIVE_INFINITY;
        for (int i = 0; i < ids.length; i++) {
            if (probs[i] > 0) {
                double ratio = -Math.log(uniform(key, ids[i])) / probs[i];
                // ties (never in practice) by the lower id, as the dense scan does
                if (ratio < bestRatio || (ratio == bestRatio && ids[i] < best)) {
                    bestRatio = ratio;
                    best = ids[i];
                }
            }
        }
        if (best < 0) {
            throw new IllegalArgumentException("distribution has no mass");
        }
        return best;
    }
}
