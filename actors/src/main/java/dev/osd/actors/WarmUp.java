package dev.osd.actors;

import com.typesafe.config.Config;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;

/**
 * Runs a model through the shapes serving runs before a model actor is listed as ready, so that the JIT has
 * compiled the forward's kernels when the first request comes (a fresh JVM's first ~64 tokens run 1.7–2x
 * slower than warm ones): a prefill, single-token decodes, and verification-shaped forwards of several rows
 * rolled back as a rejection would, all on one cache that is freed again.
 */
final class WarmUp {

    /** Tokens of the warm-up prefill and of its decodes; 0 disables it. */
    static final String TOKENS = "osd.serving.warm-up-tokens";

    /** Rows of the verification-shaped forwards (a pending token and 5 proposals). */
    private static final int VERIFY_ROWS = 6;

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
     * Warms {@code model} on a cache of {@code pool}; the pool has all its slots free again afterwards.
     *
     * @return positions run (0 when disabled, or when the pool has no free slot or too few positions)
     */
    static int run(LlamaModel model, KvCachePool pool, int tokens) {
        int prefill = Math.min(tokens, pool.positions() / 2);
        int decodes = Math.min(tokens, pool.positions() - prefill - VERIFY_ROWS);
        if (prefill < 1 || decodes < 1 || pool.freeSlots() == 0) {
            return 0;
        }
        int vocab = model.config().vocabSize();
        int run = 0;
        try (KvCache cache = pool.acquire()) {
            int[] prompt = new int[prefill];
            for (int i = 0; i < prefill; i++) {
                prompt[i] = (1 + 7 * i) % vocab;
            }
            model.forward(cache, prompt, 1);
            run += prefill;
            int[] verify = new int[VERIFY_ROWS];
            for (int i = 0; i < decodes; i++) {
                int token = (3 + 11 * i) % vocab;
                if (i % 8 == 7) {
                    // a verification of k + 1 rows, then the rollback of a rejection: back to one accepted token
                    int keep = cache.length();
                    for (int j = 0; j < VERIFY_ROWS; j++) {
                        verify[j] = (token + j) % vocab;
                    }
                    model.forward(cache, verify, VERIFY_ROWS);
                    cache.truncate(keep + 1);
                    run += VERIFY_ROWS;
                } else {
                    model.forward(cache, new int[] {token}, 1);
                    run++;
                }
            }
            cache.truncate(0);
        }
        return run;
    }
}
