package dev.osd.engine;

import java.util.ArrayList;
import java.util.List;

/**
 * The log-probability the target gave a generated token, and its most likely alternatives at that position.
 * Taken from the target's raw distribution (before temperature, top-k and top-p), as vLLM reports by default.
 *
 * @param topTokens the most likely tokens, most likely first (empty when none were asked for)
 * @param topLogprobs their log-probabilities
 */
public record TokenLogprob(int token, float logprob, int[] topTokens, float[] topLogprobs) {

    /** The entry for {@code token} at a position with these raw logits, with {@code top} alternatives. */
    public static TokenLogprob of(float[] logits, int token, int top) {
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        // StrictMath: Math.exp may round differently once the JIT compiles it, and a log-probability must not
        // depend on which thread computed it, or when
        double sum = 0;
        for (float l : logits) {
            sum += StrictMath.exp(l - max);
        }
        float logZ = (float) (max + StrictMath.log(sum));
        int n = Math.min(top, logits.length);
        int[] topTokens = new int[n];
        float[] topLogprobs = new float[n];
        // partial selection: n is small (at most 20)
        boolean[] taken = new boolean[logits.length];
        for (int i = 0; i < n; i++) {
            int best = -1;
            for (int t = 0; t < logits.length; t++) {
                if (!taken[t] && (best < 0 || logits[t] > logits[best])) {
                    best = t;
                }
            }
            taken[best] = true;
            topTokens[i] = best;
            topLogprobs[i] = logits[best] - logZ;
        }
        return new TokenLogprob(token, logits[token] - logZ, topTokens, topLogprobs);
    }

    /**
     * {@code echo}'s log-probabilities of a prompt: entry 0 is null (nothing predicts the first token, as in
     * OpenAI's answer), entry i &gt; 0 is prompt token i under the target's raw logits at position i − 1.
     *
     * @param rows the target's logits after each prompt position but the last (prompt.length − 1 rows), what a
     *     prefill that keeps every row computes
     * @param top alternatives per position
     */
    public static List<TokenLogprob> promptLogprobs(float[][] rows, int[] prompt, int top) {
        if (rows.length != prompt.length - 1) {
            throw new IllegalArgumentException("need " + (prompt.length - 1) + " rows for a prompt of "
                    + prompt.length + " tokens, got " + rows.length);
        }
        List<TokenLogprob> out = new ArrayList<>(prompt.length);
        out.add(null);
        for (int i = 1; i < prompt.length; i++) {
            out.add(of(rows[i - 1], prompt[i], top));
        }
        return out;
    }
}
