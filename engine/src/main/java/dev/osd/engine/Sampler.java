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

    /**
     * The shaped distribution: softmax(logits / temperature), restricted to top-k and top-p and renormalised.
     * At temperature 0 it is the one-hot distribution of the argmax.
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

    /** Chooses the next token from logits under the parameters. */
    public static int next(float[] logits, SamplingParams params, SplittableRandom random) {
        return params.greedy() ? argmax(logits) : draw(distribution(logits, params), random);
    }
}
