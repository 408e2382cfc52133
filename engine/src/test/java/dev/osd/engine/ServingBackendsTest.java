package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The CPU (Vector API) and DJL serving forwards over the same weights: logits within 1e-4 for prefill,
 * decode, verification chunks, batches and rollbacks; paged blocks follow the tokens held.
 */
class ServingBackendsTest {

    @Test
    void cpuAndDjlForwardsAgree() {
        for (LlamaModel any : List.of(TinyModels.target(), TinyModels.draft())) {
            LlamaModel cpu = LlamaModel.of(any.weights().copy(TinyModels.manager()), ServingBackend.CPU);
            LlamaModel djl = LlamaModel.of(any.weights().copy(TinyModels.manager()), ServingBackend.DJL);
            int vocab = any.config().vocabSize();
            try (KvCachePool cpuPool = cpu.newCachePool(3, 96); KvCachePool djlPool = djl.newCachePool(3, 96)) {
                List<KvCache> cpuCaches = new ArrayList<>();
                List<KvCache> djlCaches = new ArrayList<>();
                List<int[]> prompts = new ArrayList<>();
                for (int b = 0; b < 3; b++) {
                    cpuCaches.add(cpuPool.acquire());
                    djlCaches.add(djlPool.acquire());
                    prompts.add(CacheConsistencyTest.randomTokens(90 + b, 5 + 11 * b, vocab));
                }
                int[] all = {prompts.get(0).length, prompts.get(1).length, prompts.get(2).length};
                assertClose(cpu.forward(cpuCaches, prompts, all), djl.forward(djlCaches, prompts, all), "prefill");
                for (int round = 0; round < 6; round++) {
                    List<int[]> chunk = new ArrayList<>();
                    for (int b = 0; b < 3; b++) {
                        chunk.add(CacheConsistencyTest.randomTokens(round * 7 + b, 1 + (round + b) % 4, vocab));
                    }
                    int[] keep = chunk.stream().mapToInt(t -> t.length).toArray();
                    assertClose(cpu.forward(cpuCaches, chunk, keep), djl.forward(djlCaches, chunk, keep),
                            "round " + round);
                    for (int b = 0; b < 3; b++) { // roll back part of what was just appended
                        int back = Math.min(keep[b] - 1, b);
                        cpuCaches.get(b).truncate(cpuCaches.get(b).length() - back);
                        djlCaches.get(b).truncate(djlCaches.get(b).length() - back);
                    }
                }
                cpuCaches.forEach(KvCache::close);
                djlCaches.forEach(KvCache::close);
            }
            cpu.close();
            djl.close();
        }
    }

    @Test
    void pagedBlocksFollowTheTokensHeld() {
        LlamaModel model = TinyModels.draft();
        assertEquals(ServingBackend.CPU, model.backend());
        try (KvCachePool pool = model.newCachePool(2, 100)) {
            assertEquals(2 * 7, pool.totalBlocks()); // 100 positions in blocks of 16
            KvCache a = pool.acquire();
            model.forward(a, new int[33], 1);
            assertEquals(3, pool.usedBlocks());
            a.truncate(16);
            assertEquals(1, pool.usedBlocks());
            model.forward(a, new int[] {4, 5}, 1);
            assertEquals(2, pool.usedBlocks());
            KvCache b = pool.acquire();
            model.forward(b, new int[100], 1);
            assertEquals(9, pool.usedBlocks());
            a.close();
            b.close();
            assertEquals(0, pool.usedBlocks());
            assertThrows(IllegalArgumentException.class, () -> model.forward(pool.acquire(), new int[101], 1));
        }
    }

    @Test
    void aCacheOfTheOtherBackendIsRefused() {
        LlamaModel model = TinyModels.draft();
        try (KvCachePool pool = new KvCachePool(model.config(), 1, 8, TinyModels.manager(), ServingBackend.DJL)) {
            KvCache cache = pool.acquire();
            assertThrows(IllegalArgumentException.class, () -> model.forward(cache, new int[] {1}));
        }
    }

    private static void assertClose(List<float[][]> a, List<float[][]> b, String what) {
        assertEquals(a.size(), b.size());
        for (int s = 0; s < a.size(); s++) {
            assertEquals(a.get(s).length, b.get(s).length);
            for (int i = 0; i < a.get(s).length; i++) {
                double d = CacheConsistencyTest.maxDiff(a.get(s)[i], b.get(s)[i]);
                assertTrue(d < 1e-4, what + ": sequence " + s + " row " + i + " differs by " + d + " "
                        + Arrays.toString(Arrays.copyOf(a.get(s)[i], 3)));
            }
        }
    }
}
