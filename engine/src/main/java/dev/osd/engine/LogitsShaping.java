package dev.osd.engine;

import java.util.Arrays;

/**
 * What a request does to the model's logits, given the tokens of its sequence so far, before temperature,
 * top-k and top-p: OpenAI's {@code logit_bias}, {@code presence_penalty} and {@code frequency_penalty}, and
 * vLLM's {@code repetition_penalty}, {@code min_tokens} and {@code min_p}. The same shaping, over the same
 * history, is applied to the target's logits (p) and the draft's (q), so speculative verification is exact for
 * the shaped target distribution.
 *
 * <p>In order: the bias is added; the repetition penalty divides the positive logits (multiplies the negative
 * ones) of every token seen in the prompt or the output (Hugging Face and vLLM); the frequency penalty
 * subtracts {@code frequencyPenalty × count} and the presence penalty {@code presencePenalty} for every token
 * seen in the output (OpenAI); while fewer than {@code minTokens} tokens were generated the end tokens
 * ({@code endTokens}) are masked out. {@code minP} acts later, on probabilities: {@link Sampler#distribution}
 * drops the tokens whose probability is below {@code minP} times the largest one.
 *
 * <p>The history's prompt length and the end tokens are bound by {@link GenerationRequest#forModel} when a
 * generation starts, since only then the prompt and the model's end-of-sequence token are known.
 *
 * @param biasTokens token ids with a bias (ascending, distinct)
 * @param biasValues their biases, added to the logits
 * @param stopTokenIds tokens that end generation like the end-of-sequence token (left out of the output)
 * @param promptLength where the output starts in the history; -1 until bound
 * @param endTokens the tokens {@code minTokens} masks: the stop token ids, and the end-of-sequence token unless
 *     the request ignores it; bound with the prompt length
 */
public record LogitsShaping(int[] biasTokens, float[] biasValues, double presencePenalty, double frequencyPenalty,
        double repetitionPenalty, int minTokens, double minP, int[] stopTokenIds, int promptLength,
        int[] endTokens) {

    public static final LogitsShaping NONE = new LogitsShaping(new int[0], new float[0], 0, 0, 1, 0, 0, new int[0],
            -1, new int[0]);

    public LogitsShaping {
        biasTokens = biasTokens == null ? new int[0] : biasTokens.clone();
        biasValues = biasValues == null ? new float[0] : biasValues.clone();
        stopTokenIds = stopTokenIds == null ? new int[0] : stopTokenIds.clone();
        endTokens = endTokens == null ? new int[0] : endTokens.clone();
        if (biasTokens.length != biasValues.length) {
            throw new IllegalArgumentException("logit_bias needs one value per token");
        }
        for (int i = 0; i < biasTokens.length; i++) {
            if (biasTokens[i] < 0 || (i > 0 && biasTokens[i] <= biasTokens[i - 1])) {
                throw new IllegalArgumentException("logit_bias tokens must be distinct ids >= 0, ascending");
            }
            if (!Float.isFinite(biasValues[i])) {
                throw new IllegalArgumentException("logit_bias values must be finite");
            }
        }
        if (!Double.isFinite(presencePenalty) || !Double.isFinite(frequencyPenalty)) {
            throw new IllegalArgumentException("presence and frequency penalties must be finite");
        }
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetition_penalty must be > 0, got " + repetitionPenalty);
        }
        if (minTokens < 0) {
            throw new IllegalArgumentException("min_tokens must be >= 0, got " + minTokens);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("min_p must be in [0, 1], got " + minP);
        }
        for (int t : stopTokenIds) {
            if (t < 0) {
                throw new IllegalArgumentException("stop token ids must be >= 0");
            }
        }
    }

    /** The shaping of a request's fields; {@link GenerationRequest#forModel} binds its history later. */
    public static LogitsShaping of(int[] biasTokens, float[] biasValues, double presencePenalty,
            double frequencyPenalty, double repetitionPenalty, int minTokens, double minP, int[] stopTokenIds) {
        return new LogitsShaping(biasTokens, biasValues, presencePenalty, frequencyPenalty, repetitionPenalty,
                minTokens, minP, stopTokenIds, -1, new int[0]);
    }

    /** This shaping over a history whose output starts at {@code promptLength}, masking {@code endTokens}. */
    public LogitsShaping bind(int promptLength, int[] endTokens) {
        if (promptLength < 0) {
            throw new IllegalArgumentException("prompt length must be >= 0");
        }
        return new LogitsShaping(biasTokens, biasValues, presencePenalty, frequencyPenalty, repetitionPenalty,
                minTokens, minP, stopTokenIds, promptLength, endTokens);
    }

    /** Whether the logits pass through unchanged whatever the history (min_p aside, which acts on probabilities). */
    public boolean neutralLogits() {
        return biasTokens.length == 0 && presencePenalty == 0 && frequencyPenalty == 0 && repetitionPenalty == 1
                && (minTokens == 0 || endTokens.length == 0);
    }

    public boolean neutral() {
        return neutralLogits() && minP == 0 && stopTokenIds.length == 0 && minTokens == 0;
    }

    public boolean isStopToken(int token) {
        for (int t : stopTokenIds) {
            if (t == token) {
                return true;
            }
        }
        return false;
    }

    /**
     * The shaped logits of the position after {@code history[0, length)}; {@code logits} itself when nothing
     * changes, else a copy (the raw row stays as it was, for log-probabilities).
     */
    public float[] apply(float[] logits, int[] history, int length) {
        if (neutralLogits()) {
            return logits;
        }
        if (promptLength < 0) {
            throw new IllegalStateException("the shaping's history is not bound (GenerationRequest.forModel)");
        }
        if (length < promptLength || length > history.length) {
            throw new IllegalArgumentException("history of " + length + " tokens, prompt " + promptLength
                    + ", array " + history.length);
        }
        float[] out = logits.clone();
        for (int i = 0; i < biasTokens.length; i++) {
            if (biasTokens[i] < out.length) {
                out[biasTokens[i]] += biasValues[i];
            }
        }
        if (repetitionPenalty != 1) {
            boolean[] seen = new boolean[out.length];
            for (int i = 0; i < length; i++) {
                int t = history[i];
                if (t >= 0 && t < out.length && !seen[t]) {
                    seen[t] = true;
                    out[t] = out[t] > 0 ? (float) (out[t] / repetitionPenalty) : (float) (out[t] * repetitionPenalty);
                }
            }
        }
        if (presencePenalty != 0 || frequencyPenalty != 0) {
            int[] counts = new int[out.length];
            for (int i = promptLength; i < length; i++) {
                int t = history[i];
                if (t >= 0 && t < out.length) {
                    counts[t]++;
                }
            }
            for (int t = 0; t < out.length; t++) {
                if (counts[t] > 0) {
                    out[t] = (float) (out[t] - frequencyPenalty * counts[t] - presencePenalty);
                }
            }
        }
        if (length - promptLength < minTokens) {
            for (int t : endTokens) {
                if (t < out.length) {
                    out[t] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LogitsShaping s && Arrays.equals(biasTokens, s.biasTokens)
                && Arrays.equals(biasValues, s.biasValues) && presencePenalty == s.presencePenalty
                && frequencyPenalty == s.frequencyPenalty && repetitionPenalty == s.repetitionPenalty
                && minTokens == s.minTokens && minP == s.minP && Arrays.equals(stopTokenIds, s.stopTokenIds)
                && promptLength == s.promptLength && Arrays.equals(endTokens, s.endTokens);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(biasTokens) * 31 + Arrays.hashCode(endTokens) + minTokens;
    }

    @Override
    public String toString() {
        return "LogitsShaping[bias " + Arrays.toString(biasTokens) + "=" + Arrays.toString(biasValues)
                + ", presence " + presencePenalty + ", frequency " + frequencyPenalty + ", repetition "
                + repetitionPenalty + ", minTokens " + minTokens + ", minP " + minP + ", stop "
                + Arrays.toString(stopTokenIds) + ", prompt " + promptLength + ", end " + Arrays.toString(endTokens)
                + "]";
    }
}
