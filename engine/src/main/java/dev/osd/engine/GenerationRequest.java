package dev.osd.engine;

import java.util.Arrays;
import java.util.List;

/**
 * What to generate for one sequence.
 *
 * @param prompt token ids, at least one (the caller puts a BOS where the model wants one)
 * @param maxTokens most tokens to generate
 * @param sampling temperature, top-k, top-p, seed, and the logits shaping (bias, penalties, min_tokens, min_p,
 *     stop token ids)
 * @param stop strings that end generation when they appear in the output (left out of the text)
 * @param ignoreEos keep generating past the end-of-sequence token
 * @param numDraftTokens k, the proposal length per round; 0 means target-only decoding
 * @param logprobs -1: no log-probabilities; n >= 0: each token's, with its n most likely alternatives
 * @param promptLogprobs with {@code logprobs >= 0}: the prompt's tokens' too (echo), each after the first under
 *     the target's logits at the position before it, with as many alternatives
 */
public record GenerationRequest(int[] prompt, int maxTokens, SamplingParams sampling, List<String> stop,
        boolean ignoreEos, int numDraftTokens, int logprobs, boolean promptLogprobs) {

    public GenerationRequest(int[] prompt, int maxTokens, SamplingParams sampling, List<String> stop,
            boolean ignoreEos, int numDraftTokens, int logprobs) {
        this(prompt, maxTokens, sampling, stop, ignoreEos, numDraftTokens, logprobs, false);
    }

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
        if (promptLogprobs && logprobs < 0) {
            throw new IllegalArgumentException("the prompt's log-probabilities need logprobs >= 0");
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

    /**
     * This request for a model whose end-of-sequence token is {@code eosTokenId} (-1: none): its shaping bound
     * to the prompt's length, and {@code min_tokens} masking the stop token ids and, unless EOS is ignored, EOS.
     * A {@link Generation} does this when it starts; the draft sees the bound parameters in each proposal.
     */
    public GenerationRequest forModel(int eosTokenId) {
        LogitsShaping s = sampling.shaping();
        if (s.neutral()) {
            return this;
        }
        int[] stops = s.stopTokenIds();
        boolean withEos = !ignoreEos && eosTokenId >= 0 && !s.isStopToken(eosTokenId);
        int[] end = Arrays.copyOf(stops, stops.length + (withEos ? 1 : 0));
        if (withEos) {
            end[stops.length] = eosTokenId;
        }
        return new GenerationRequest(prompt, maxTokens, sampling.withShaping(s.bind(prompt.length, end)), stop,
                ignoreEos, numDraftTokens, logprobs, promptLogprobs);
    }

    /** Whether {@code token} ends generation: EOS (unless ignored) or one of the stop token ids. */
    public boolean stopsAt(int token, int eosTokenId) {
        return (!ignoreEos && token == eosTokenId) || sampling.shaping().isStopToken(token);
    }

    public static GenerationRequest of(int[] prompt, int maxTokens, SamplingParams sampling, int numDraftTokens) {
        return new GenerationRequest(prompt, maxTokens, sampling, List.of(), false, numDraftTokens);
    }
}
