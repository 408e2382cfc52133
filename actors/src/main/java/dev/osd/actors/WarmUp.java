package dev.osd.actors;

import com.typesafe.config.Config;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;

/** The warm-up a model actor runs before it is listed as ready: its size from configuration. */
final class WarmUp {

    /** Tokens of the warm-up prefill and of its decodes; 0 disables it. */
    static final String TOKENS = "osd.serving.warm-up-tokens";

    private WarmUp() {
    }

    static int tokens(Config config) {
        int n = config.getInt(TOKENS);
        if (n < 0) {
            throw new IllegalArgumentException(TOKENS + " must be >= 0, was " + n);
        }
        return n;
    }

    /**
     * Warms {@code model} on a cache of {@code pool} ({@link LlamaModel#warmUp}); the pool has all its slots
     * free again afterwards.
     *
     * @return positions run (0 when disabled, or when the pool has no free slot or too few positions)
     */
    static int run(LlamaModel model, KvCachePool pool, int tokens) {
        return model.warmUp(pool, tokens);
    }
}
