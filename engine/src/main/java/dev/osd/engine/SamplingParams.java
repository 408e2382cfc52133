package dev.osd.engine;

/**
 * How the next token is chosen from a model's logits. The logits are first shaped by the request's
 * {@link LogitsShaping} over the sequence so far (bias, penalties, min_tokens); then temperature 0 is greedy
 * (argmax); otherwise logits are divided by the temperature, min-p drops the unlikely tail, and they are
 * restricted to the top-k tokens (0 = no limit) and to the smallest set whose probability reaches top-p (1 = no
 * limit). The same shaping is applied to target and draft, which is what keeps speculative sampling lossless
 * under every setting.
 *
 * @param seed the random stream's seed
 * @param seeded whether the client fixed the seed: then each token is a function of (seed, position, the
 *     target's distribution) alone ({@link CounterNoise}, verified by {@link SeededVerifier}), so it is the same
 *     whichever draft serves it, at whichever version, or none; otherwise tokens come from the request's random
 *     stream and rejection sampling ({@link SpeculativeVerifier})
 */
public record SamplingParams(double temperature, int topK, double topP, long seed, LogitsShaping shaping,
        boolean seeded) {

    public static final SamplingParams GREEDY = new SamplingParams(0, 0, 1, 0);

    public SamplingParams {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0 (0 disables it), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        shaping = shaping == null ? LogitsShaping.NONE : shaping;
    }

    /** Unshaped, tokens from the random stream of {@code seed}. */
    public SamplingParams(double temperature, int topK, double topP, long seed) {
        this(temperature, topK, topP, seed, LogitsShaping.NONE, false);
    }

    public static SamplingParams sample(double temperature, long seed) {
        return new SamplingParams(temperature, 0, 1, seed);
    }

    public SamplingParams withShaping(LogitsShaping s) {
        return new SamplingParams(temperature, topK, topP, seed, s, seeded);
    }

    /** These parameters with tokens a function of (seed, position, distribution): see {@link #seeded()}. */
    public SamplingParams asSeeded() {
        return new SamplingParams(temperature, topK, topP, seed, shaping, true);
    }

    public boolean greedy() {
        return temperature == 0;
    }
}
