package dev.osd.engine;

import java.util.List;

/**
 * What to generate for one sequence.
 *
 * @param prompt token ids, at least one (the caller puts a BOS where the model wants one)
 * @param maxTokens most tokens to generate
 * @param sampling temperature, top-k, top-p and seed
 * @param stop strings that end generation when they appear in the output (left out of the text)
 * @param ignoreEos keep generating past the end-of-sequence token
 * @param numDraftTokens k, the proposal length per round; 0 means target-only decoding
 * @param logprobs -1: no log-probabilities; n >= 0: each token's, with its n most likely alternatives
 */
public record GenerationRequest(int[] prompt, int maxTokens, SamplingParams sampling, List<String> stop,
        boolean ignoreEos, int numDraftTokens, int logprobs) {

    public GenerationRequest(int[] prompt, int maxTokens, SamplingParams sampling, List<String> stop,
            boolean ignoreEos, int numDraftTokens) {
        this(prompt, maxTokens, sampling, stop, ignoreEos, numDraftTokens, -1);
    }

    public GenerationRequest {
        if (prompt == null || prompt.length == 0) {
            throw new IllegalArgumentException("prompt must hold at least one token");
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
        }
        if (logprobs < -1) {
            throw new IllegalArgumentException("logprobs must be -1 (none) or >= 0, got " + logprobs);
        }
        if (numDraftTokens < 0) {
            throw new IllegalArgumentException("num_draft_tokens must be >= 0, got " + numDraftTokens);
        }
        stop = stop == null ? List.of() : List.copyOf(stop);
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
        }
    }

    public static GenerationRequest of(int[] prompt, int maxTokens, SamplingParams sampling, int numDraftTokens) {
        return new GenerationRequest(prompt, maxTokens, sampling, List.of(), false, numDraftTokens);
    }
}
