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
 * @param promptLogprobs when the request asked for the prompt's (echo): prompt token i + 1's log-probability at
 *     entry i (promptTokens − 1 entries: nothing predicts the first token, which OpenAI's answer shows as null);
 *     else null
 */
public record GenerationResult(int[] tokens, String text, FinishReason finishReason, SpeculationStats stats,
        int promptTokens, long firstTokenNanos, long totalNanos, List<TokenLogprob> logprobs,
        List<TokenLogprob> promptLogprobs) {

    public GenerationResult(int[] tokens, String text, FinishReason finishReason, SpeculationStats stats,
            int promptTokens, long firstTokenNanos, long totalNanos, List<TokenLogprob> logprobs) {
        this(tokens, text, finishReason, stats, promptTokens, firstTokenNanos, totalNanos, logprobs, null);
    }

    public GenerationResult(int[] tokens, String text, FinishReason finishReason, SpeculationStats stats,
            int promptTokens, long firstTokenNanos, long totalNanos) {
        this(tokens, text, finishReason, stats, promptTokens, firstTokenNanos, totalNanos, null);
    }

    /** Mean time per output token after the first, in seconds (TPOT). */
    public double timePerOutputToken() {
        return tokens.length <= 1 ? 0 : (totalNanos - firstTokenNanos) / 1e9 / (tokens.length - 1);
    }
}
