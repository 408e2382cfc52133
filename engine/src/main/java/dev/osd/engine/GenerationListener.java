package dev.osd.engine;

import java.util.List;

/** Receives a generation's progress as it happens: tokens as they are accepted, and every verification round. */
public interface GenerationListener {

    GenerationListener NONE = new GenerationListener() { };

    /** New tokens, in order, as soon as they are final. */
    default void onTokens(int[] tokens) {
    }

    /** As {@link #onTokens(int[])}, with each token's log-probability when the request asked for them (else null). */
    default void onTokens(int[] tokens, List<TokenLogprob> logprobs) {
        onTokens(tokens);
    }

    /** One speculative round, with what distillation needs. */
    default void onRound(SpeculationRound round) {
    }
}
