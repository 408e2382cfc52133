package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class BatchedForwardTest {

    @Test
    void batchOfDifferentLengthsEqualsOneByOne() {
        LlamaModel model = TinyModels.target();
        int vocab = model.config().vocabSize();
        int[] cached = {0, 7, 30, 3};
        int[] fresh = {5, 1, 6, 12};
        try (KvCachePool pool = model.newCachePool(4, 96)) {
            List<KvCache> caches = new ArrayList<>();
            List<int[]> full = new ArrayList<>();
            List<int[]> news = new ArrayList<>();
            for (int b = 0; b < cached.length; b++) {
                int[] tokens = CacheConsistencyTest.randomTokens(50 + b, cached[b] + fresh[b], vocab);
                full.add(tokens);
                KvCache cache = pool.acquire();
                if (cached[b] > 0) {
                    model.forward(cache, Arrays.copyOf(tokens, cached[b]), 1);
                }
                caches.add(cache);
                news.add(Arrays.copyOfRange(tokens, cached[b], tokens.length));
            }
            List<float[][]> batched = model.forward(caches, news, fresh);
            for (int b = 0; b < cached.length; b++) {
                assertEquals(cached[b] + fresh[b], caches.get(b).length());
                float[][] reference = CacheConsistencyTest.reference(model, full.get(b));
                for (int i = 0; i < fresh[b]; i++) {
                    double d = CacheConsistencyTest.maxDiff(reference[cached[b] + i], batched.get(b)[i]);
                    assertTrue(d < 1e-4, "sequence " + b + " position " + i + " differs by " + d);
                }
            }
            // a second batched step on top of the batched one (verification after verification)
            List<int[]> next = new ArrayList<>();
            for (int b = 0; b < cached.length; b++) {
                next.add(new int[] {b + 3, b + 4});
            }
            List<float[][]> again = model.forward(caches, next, new int[] {1, 1, 1, 1});
            for (int b = 0; b < cached.length; b++) {
                int[] tokens = Arrays.copyOf(full.get(b), full.get(b).length + 2);
                tokens[tokens.length - 2] = b + 3;
                tokens[tokens.length - 1] = b + 4;
                float[][] reference = CacheConsistencyTest.reference(model, tokens);
                assertTrue(CacheConsistencyTest.maxDiff(reference[tokens.length - 1], again.get(b)[0]) < 1e-4);
            }
            caches.forEach(KvCache::close);
        }
    }

    @Test
    void verificationLogitsAreTheDecodeLogitsBitForBit() {
        // the CPU forward's arithmetic per row does not depend on the rows beside it, so a verification of
        // k + 1 positions (and a batch) scores exactly what one-token decoding would: greedy speculation
        // equals greedy target-only decoding even where two logits are nearly tied
        LlamaModel model = TinyModels.target();
        assertEquals(ServingBackend.CPU, model.backend());
        int vocab = model.config().vocabSize();
        int[] tokens = CacheConsistencyTest.randomTokens(77, 30, vocab);
        try (KvCachePool pool = model.newCachePool(2, 64)) {
            KvCache one = pool.acquire();
            KvCache many = pool.acquire();
            model.forward(one, Arrays.copyOf(tokens, 24), 1);
            model.forward(many, Arrays.copyOf(tokens, 24), 1);
            float[][] verified = model.forward(many, Arrays.copyOfRange(tokens, 24, 30), 6);
            for (int i = 24; i < 30; i++) {
                float[] decoded = model.forward(one, new int[] {tokens[i]}, 1)[0];
                for (int v = 0; v < vocab; v++) {
                    assertEquals(Float.floatToRawIntBits(decoded[v]), Float.floatToRawIntBits(verified[i - 24][v]),
                            "position " + i + " token " + v);
                }
            }
            one.close();
            many.close();
        }
    }

    @Test
    void refusesWhatDoesNotFit() {
        LlamaModel model = TinyModels.draft();
        try (KvCachePool pool = model.newCachePool(1, 8)) {
            KvCache cache = pool.acquire();
            assertThrows(IllegalStateException.class, pool::acquire);
            assertThrows(IllegalArgumentException.class, () -> model.forward(cache, new int[9]));
            assertThrows(IllegalArgumentException.class, () -> model.forward(cache, new int[] {300}));
            assertEquals(0, cache.length(), "a refused forward leaves the cache as it was");
            cache.close();
            assertEquals(1, pool.freeSlots());
            assertThrows(IllegalStateException.class, () -> model.forward(cache, new int[] {1}));
        }
    }
}
