package dev.osd.engine;

/**
 * How the next token is chosen from a model's logits. Temperature 0 is greedy (argmax); otherwise logits are
 * divided by the temperature, then restricted to the top-k tokens (0 = no limit) and to the smallest set
 * whose probability reaches top-p (1 = no limit). The same shaping is applied to target and draft, which is
 * what keeps speculative sampling lossless under every setting.
 */
public record SamplingParams(double temperature, int topK, double topP, long seed) {

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
    }

    public static SamplingParams sample(double temperature, long seed) {
        return new SamplingParams(temperature, 0, 1, seed);
    }

    public boolean greedy() {
        return temperature == 0;
    }
}
