package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.osd.engine.CounterNoise;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculativeDecoder;
import dev.osd.engine.TextTokenizer;
import dev.osd.workload.Example;
import dev.osd.workload.QueryClass;
import dev.osd.workload.Workload;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The figure behind the choice of verifier (docs/serving.md): token acceptance of the embedded base draft
 * against the embedded target on held-out traffic of every class, with rejection sampling (unseeded requests)
 * and with counter-noise verification (seeded requests), at two temperatures; and what the noise costs per
 * position. Prints the table; checks only that both ran and that counter noise accepts something.
 */
class SeededAcceptanceTest {

    private static final int PROMPTS_PER_CLASS = 8;
    private static final int MAX_TOKENS = 48;
    private static final int K = 4;

    @Test
    void acceptanceOfCounterNoiseAgainstRejectionSampling() {
        Path models = EmbeddedModelsTest.repositoryRoot().resolve("models");
        try (NDManager manager = NDManager.newBaseManager();
                LlamaModel target = LlamaModel.load(models.resolve("target"), manager);
                LlamaModel draft = LlamaModel.load(models.resolve("draft"), manager);
                TextTokenizer tokenizer = TextTokenizer.load(models.resolve("target"));
                KvCachePool targetPool = target.newCachePool(1, 256);
                KvCachePool draftPool = draft.newCachePool(1, 256)) {
            SpeculativeDecoder decoder = new SpeculativeDecoder(target, targetPool, draft, draftPool, tokenizer);
            for (double temperature : new double[] {1.0, 0.7}) {
                long[] accepted = new long[2];
                long[] proposed = new long[2];
                long[] judged = new long[2];
                long seed = 1;
                for (QueryClass c : Workload.CLASSES) {
                    for (Example e : Workload.examples(c, Workload.Split.HELD_OUT, PROMPTS_PER_CLASS, 7)) {
                        int[] body = tokenizer.encode(e.prompt());
                        int[] prompt = new int[body.length + 1];
                        prompt[0] = target.config().bosTokenId();
                        System.arraycopy(body, 0, prompt, 1, body.length);
                        for (int mode = 0; mode < 2; mode++) {
                            SamplingParams s = new SamplingParams(temperature, 0, 1, seed, null, mode == 1);
                            GenerationResult r = decoder.generate(new GenerationRequest(prompt, MAX_TOKENS, s,
                                    List.of(), true, K));
                            accepted[mode] += r.stats().acceptedTokens();
                            proposed[mode] += r.stats().draftTokens();
                            judged[mode] += r.stats().acceptedTokens() + r.stats().rejections();
                        }
                        seed++;
                    }
                }
                for (int mode = 0; mode < 2; mode++) {
                    System.out.printf("acceptance T=%.1f %-22s alpha %.3f  acceptance rate %.3f  (%d proposed)%n",
                            temperature, mode == 0 ? "rejection sampling" : "counter noise (seeded)",
                            (double) accepted[mode] / judged[mode], (double) accepted[mode] / proposed[mode],
                            proposed[mode]);
                    assertTrue(proposed[mode] > 0);
                }
                assertTrue(accepted[1] > 0, "counter noise never accepted a draft token");
            }
            for (int vocab : new int[] {target.config().vocabSize(), 32_000, 128_000}) {
                double[] p = new double[vocab];
                SplittableRandom r = new SplittableRandom(3);
                double sum = 0;
                for (int i = 0; i < vocab; i++) {
                    p[i] = r.nextDouble();
                    sum += p[i];
                }
                for (int i = 0; i < vocab; i++) {
                    p[i] /= sum;
                }
                int sink = 0;
                for (int i = 0; i < 200; i++) {
                    sink += CounterNoise.choose(p, 9, i); // warm-up
                }
                int reps = 2000;
                long start = System.nanoTime();
                for (int i = 0; i < reps; i++) {
                    sink += CounterNoise.choose(p, 9, i);
                }
                double us = (System.nanoTime() - start) / 1e3 / reps;
                System.out.printf("counter noise over a vocabulary of %d: %.1f us per position (%d)%n", vocab, us,
                        sink % 2);
            }
        }
    }
}
