package dev.osd.engine;

import java.util.List;

/**
 * A finished generation.
 *
 * @param tokens generated token ids (EOS excluded)
 * @param text their text, cut before a stop string; null when no tokenizer was given
 * @param finishReason stop or length
 * @param stats speculation figures (all zero for target-only decoding)
 * @param promptTokens length of the prompt
 * @param firstTokenNanos time from start to the first generated token
 * @param totalNanos time from start to the end
 * @param logprobs each generated token's log-probability, when the request asked for them; else null
 */
public record GenerationResult(int[] tokens, String text, FinishReason finishReason, SpeculationStats stats,
        int promptTokens, long firstTokenNanos, long totalNanos, List<TokenLogprob> logprobs) {

    public GenerationResult(int[] tokens, String text, FinishReason finishReason, SpeculationStats stats,
            int promptTokens, long firstTokenNanos, long totalNanos) {
        this(tokens, text, finishReason, stats, promptTokens, firstTokenNanos, totalNanos, null);
    }

    /** Mean time per output token after the first, in seconds (TPOT). */
    public double timePerOutputToken() {
        return tokens.length <= 1 ? 0 : (totalNanos - firstTokenNanos) / 1e9 / (tokens.length - 1);
    }
}
