package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CacheConsistencyTest {

    static float[][] reference(LlamaModel model, int[] tokens) {
        try (NDManager scope = TinyModels.manager().newSubManager()) {
            long[] ids = Arrays.stream(tokens).asLongStream().toArray();
            NDArray logits = model.sequenceLogits(scope.create(ids).reshape(1, tokens.length));
            float[] flat = logits.toFloatArray();
            int vocab = model.config().vocabSize();
            float[][] rows = new float[tokens.length][];
            for (int i = 0; i < tokens.length; i++) {
                rows[i] = Arrays.copyOfRange(flat, i * vocab, (i + 1) * vocab);
            }
            return rows;
        }
    }

    static int[] randomTokens(long seed, int n, int vocab) {
        SplittableRandom r = new SplittableRandom(seed);
        return r.ints(n, 0, vocab).toArray();
    }

    static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    @Test
    void incrementalForwardWithRollbacksEqualsFullSequence() {
        LlamaModel model = TinyModels.target();
        int[] tokens = randomTokens(3, 60, model.config().vocabSize());
        float[][] full = reference(model, tokens);
        try (KvCachePool pool = model.newCachePool(2, 128); KvCache cache = pool.acquire()) {
            // prefill 20, then 5 single tokens, then chunks of k+1 = 5 with rollbacks of a random depth
            check(full, model.forward(cache, Arrays.copyOfRange(tokens, 0, 20)), 0);
            int pos = 20;
            for (; pos < 25; pos++) {
                check(full, model.forward(cache, new int[] {tokens[pos]}), pos);
            }
            SplittableRandom r = new SplittableRandom(5);
            while (pos + 5 <= tokens.length) {
                float[][] chunk = model.forward(cache, Arrays.copyOfRange(tokens, pos, pos + 5));
                check(full, chunk, pos);
                int accepted = r.nextInt(6); // keep 0..5 of the chunk, as after a rejection
                cache.truncate(pos + accepted);
                pos += accepted;
                // feed garbage after the accepted prefix, then roll it back: caches must not remember it
                model.forward(cache, new int[] {1, 2, 3});
                cache.truncate(pos);
            }
            assertEquals(pos, cache.length());
        }
    }

    private static void check(float[][] full, float[][] rows, int start) {
        for (int i = 0; i < rows.length; i++) {
            double d = maxDiff(full[start + i], rows[i]);
            assertTrue(d < 1e-4, "position " + (start + i) + " differs by " + d);
        }
    }

    @Test
    void keepLastReturnsTheTrailingPositions() {
        LlamaModel model = TinyModels.draft();
        int[] tokens = randomTokens(9, 12, model.config().vocabSize());
        float[][] full = reference(model, tokens);
        try (KvCachePool pool = model.newCachePool(1, 64); KvCache cache = pool.acquire()) {
            float[][] last = model.forward(cache, tokens, 1);
            assertEquals(1, last.length);
            assertTrue(maxDiff(full[11], last[0]) < 1e-4);
        }
    }
}
