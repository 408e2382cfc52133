package dev.osd.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Turns logits into the distribution that tokens are drawn from, and draws them. Everything runs in double
 * precision in Java, so a seeded draw is bit-for-bit repeatable whatever the native library does.
 */
public final class Sampler {

    private Sampler() {
    }

    /** Index of the largest logit (the first, on ties). */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /** The logits shaped by the request's {@link LogitsShaping} after {@code history[0, length)}. */
    public static float[] shape(float[] logits, SamplingParams params, int[] history, int length) {
        return params.shaping().apply(logits, history, length);
    }

    /**
     * The distribution of the token at position {@code length} after {@code history[0, length)}: the logits
     * shaped ({@link #shape}), then {@link #distribution(float[], SamplingParams)}.
     */
    public static double[] distribution(float[] logits, SamplingParams params, int[] history, int length) {
        return distribution(shape(logits, params, history, length), params);
    }

    /**
     * The distribution of already shaped logits: softmax(logits / temperature), without the tokens under min-p
     * times the most likely one's probability, restricted to top-k and top-p and renormalised. At temperature 0
     * it is the one-hot distribution of the argmax.
     */
    public static double[] distribution(float[] logits, SamplingParams params) {
        int vocab = logits.length;
        double[] p = new double[vocab];
        if (params.greedy()) {
            p[argmax(logits)] = 1;
            return p;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            p[i] = Math.exp((logits[i] - max) / params.temperature());
            sum += p[i];
        }
        for (int i = 0; i < vocab; i++) {
            p[i] /= sum;
        }
        double minP = params.shaping().minP();
        if (minP > 0) {
            // as vLLM: after temperature, before top-k and top-p; the most likely token always stays
            double top = 0;
            for (double v : p) {
                top = Math.max(top, v);
            }
            double threshold = minP * top;
            double kept = 0;
            for (int i = 0; i < vocab; i++) {
                if (p[i] < threshold) {
                    p[i] = 0;
                }
                kept += p[i];
            }
            for (int i = 0; i < vocab; i++) {
                p[i] /= kept;
            }
        }
        boolean limitK = params.topK() > 0 && params.topK() < vocab;
        if (!limitK && params.topP() >= 1) {
            return p;
        }
        Integer[] order = new Integer[vocab];
        for (int i = 0; i < vocab; i++) {
            order[i] = i;
        }
        // by probability, ties by token id, so the kept set is deterministic
        Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        int keep = limitK ? params.topK() : vocab;
        if (params.topP() < 1) {
            double cumulative = 0;
            int n = 0;
            while (n < keep) {
                cumulative += p[order[n]];
                n++;
                if (cumulative >= params.topP()) {
                    break;
                }
            }
            keep = n;
        }
        double kept = 0;
        for (int i = 0; i < keep; i++) {
            kept += p[order[i]];
        }
        double[] shaped = new double[vocab];
        for (int i = 0; i < keep; i++) {
            shaped[order[i]] = p[order[i]] / kept;
        }
        return shaped;
    }

    /** Draws an index from a distribution that sums to one (the last non-zero entry absorbs rounding). */
    public static int draw(double[] p, SplittableRandom random) {
        double u = random.nextDouble();
        double cumulative = 0;
        int last = -1;
        for (int i = 0; i < p.length; i++) {
            if (p[i] > 0) {
                cumulative += p[i];
                last = i;
                if (u < cumulative) {
                    return i;
                }
            }
        }
        if (last < 0) {
            throw new IllegalArgumentException("distribution has no mass");
        }
        return last;
    }

    /** Chooses the next token from logits under the parameters, for requests without logits shaping. */
    public static int next(float[] logits, SamplingParams params, SplittableRandom random) {
        return params.greedy() ? argmax(logits) : draw(distribution(logits, params), random);
    }

    /**
     * Chooses the token at position {@code length} after {@code history[0, length)} from its raw logits:
     * greedy takes the argmax of the shaped logits, a seeded request {@link CounterNoise} at that position,
     * any other a draw from the random stream.
     */
    public static int next(float[] logits, SamplingParams params, SplittableRandom random, int[] history,
            int length) {
        if (params.greedy()) {
            return argmax(shape(logits, params, history, length));
        }
        return choose(distribution(logits, params, history, length), params, random, length);
    }

    /**
     * The token at {@code position} from its distribution: the one with mass when greedy (one-hot), the
     * {@link CounterNoise} choice when seeded, else a draw from the random stream.
     */
    public static int choose(double[] distribution, SamplingParams params, SplittableRandom random, int position) {
        if (params.greedy()) {
            int best = 0;
            for (int i = 1; i < distribution.length; i++) {
                if (distribution[i] > distribution[best]) {
                    best = i;
                }
            }
            return best;
        }
        return params.seeded() ? CounterNoise.choose(distribution, params.seed(), position)
                : draw(distribution, random);
    }
}
