package dev.osd.distillation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.drafts.DraftCheckpointStore;
import dev.osd.drafts.DraftVersion;
import dev.osd.drafts.LiveDraft;
import dev.osd.engine.GenerationListener;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculationRound;
import dev.osd.engine.SpeculativeDecoder;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DraftTrainerTest {

    @TempDir
    Path dir;

    static LiveDraft liveCopyOfDraft(String name) {
        return new LiveDraft(new DraftVersion(name, 0, -1,
                LlamaModel.of(TinyPair.draft().weights().copy(TinyPair.manager()))));
    }

    /** Serves prompts with the live draft's current version per request, feeding the trainer. */
    static int[][] serve(LiveDraft live, DraftTrainer trainer, SamplingParams sampling, int prompts) {
        LlamaModel target = TinyPair.target();
        int[][] outputs = new int[prompts][];
        try (KvCachePool tp = target.newCachePool(1); KvCachePool dp = TinyPair.draft().newCachePool(1)) {
            for (int i = 0; i < prompts; i++) {
                try (DraftVersion v = live == null ? null : live.acquire()) {
                    SpeculativeDecoder decoder = v == null ? SpeculativeDecoder.targetOnly(target, tp, null)
                            : new SpeculativeDecoder(target, tp, v.model(), dp, null);
                    GenerationResult r = decoder.generate(new GenerationRequest(new int[] {1, 3 + i % 7, 40 - i % 5},
                            20, sampling, null, true, v == null ? 0 : 4), new GenerationListener() {
                                @Override
                                public void onRound(SpeculationRound round) {
                                    if (trainer != null) {
                                        trainer.offer(round);
                                    }
                                }
                            });
                    outputs[i] = r.tokens();
                }
            }
        }
        return outputs;
    }

    @Test
    void everyIntervalOfRecordsPublishesANewVersionAndOldOnesAreFreed() throws Exception {
        ExecutorService training = DraftTrainer.newTrainingExecutor();
        try (LiveDraft live = liveCopyOfDraft("d")) {
            DraftVersion first = live.acquire();
            TrainerSettings s = TrainerSettings.builder(TinyPair.VOCAB).optLearningRate(1e-3).optGuardWindow(0)
                    .optGuardTolerance(0).build();
            try (DraftTrainer trainer = new DraftTrainer(live, s, training, null, TinyPair.manager())) {
                serve(live, trainer, SamplingParams.GREEDY, 12);
                trainer.awaitIdle();
                DraftTrainer.Stats stats = trainer.stats();
                assertTrue(stats.updates() >= 1, "updates " + stats.updates());
                assertEquals(stats.updates(), stats.version(), "one version per update, numbered from the base");
                assertTrue(stats.records() >= 8 * stats.updates());
                assertTrue(Double.isFinite(stats.lastLoss()));
            }
            // the request that held version 0 still could use it; once let go it is freed
            assertTrue(!first.freed());
            first.close();
            assertTrue(first.freed());
        } finally {
            training.shutdown();
            training.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void atTemperatureZeroOnlineTrainingNeverChangesTheOutput() throws Exception {
        int[][] plain = serve(null, null, SamplingParams.GREEDY, 16);
        try (LiveDraft live = liveCopyOfDraft("d")) {
            // a learning rate high enough that every version differs a lot from the last
            TrainerSettings s = TrainerSettings.builder(TinyPair.VOCAB).optLearningRate(5e-2).optInterval(2)
                    .optReplay(2).optGuardWindow(0).optGuardTolerance(0).build();
            try (DraftTrainer trainer = new DraftTrainer(live, s, Runnable::run, null, TinyPair.manager())) {
                int[][] online = serve(live, trainer, SamplingParams.GREEDY, 16);
                assertTrue(trainer.stats().updates() >= 10, "updates " + trainer.stats().updates());
                for (int i = 0; i < plain.length; i++) {
                    assertArrayEquals(plain[i], online[i], "prompt " + i);
                }
            }
        }
    }

    @Test
    void theGuardRollsBackAVersionThatServesWorse() throws Exception {
        try (LiveDraft live = liveCopyOfDraft("d")) {
            // a learning rate that wrecks the draft: its expected acceptance falls and the guard notices
            TrainerSettings s = TrainerSettings.builder(TinyPair.VOCAB).optLearningRate(3.0).optInterval(2).optReplay(0)
                    .optGuardWindow(8).optGuardTolerance(0.02).build();
            DraftCheckpointStore store = new DraftCheckpointStore(dir.resolve("d"), "d", 5);
            try (DraftTrainer trainer = new DraftTrainer(live, s, Runnable::run, store, TinyPair.manager())) {
                serve(live, trainer, SamplingParams.sample(1.0, 3), 12);
                assertTrue(trainer.stats().rollbacks() >= 1, "rollbacks " + trainer.stats().rollbacks());
            }
            // a rollback is saved with its note
            assertTrue(store.versions().size() >= 1);
        }
    }

    @Test
    void aRecordThatDoesNotFitTheDraftIsRefusedAndTrainingGoesOn() throws Exception {
        try (LiveDraft live = liveCopyOfDraft("d")) {
            TrainerSettings s = TrainerSettings.builder(TinyPair.VOCAB).optInterval(1).optReplay(0).optGuardWindow(0)
                    .optGuardTolerance(0).build();
            try (DraftTrainer trainer = new DraftTrainer(live, s, Runnable::run, null, TinyPair.manager())) {
                // a target over a vocabulary of another size, and a token outside the draft's vocabulary
                trainer.offer(new DistillationRecord(new int[] {1, 2}, new int[] {1}, new TargetDistribution[] {
                        new TargetDistribution(null, new float[] {0.5f, 0.5f}, 0)}));
                trainer.offer(new DistillationRecord(new int[] {1, TinyPair.VOCAB}, new int[] {1},
                        new TargetDistribution[] {new TargetDistribution(new int[] {3}, new float[] {1f}, 0)}));
                assertEquals(2, trainer.stats().refused());
                assertEquals(0, trainer.buffer().size());
                assertEquals(0, live.version());
                serve(live, trainer, SamplingParams.GREEDY, 2);
                assertTrue(live.version() >= 1, "training goes on");
                assertEquals(0, trainer.stats().failures());
            }
        }
    }

    @Test
    void pausedTrainersKeepRecordsButPublishNothing() throws Exception {
        try (LiveDraft live = liveCopyOfDraft("d")) {
            TrainerSettings s = TrainerSettings.builder(TinyPair.VOCAB).optGuardWindow(0).optGuardTolerance(0)
                    .build();
            try (DraftTrainer trainer = new DraftTrainer(live, s, Runnable::run, null, TinyPair.manager())) {
                trainer.pause();
                serve(live, trainer, SamplingParams.GREEDY, 6);
                assertEquals(0, live.version());
                assertTrue(trainer.buffer().freshCount() >= 8);
                trainer.resume();
                assertTrue(live.version() >= 1);
            }
        }
    }

    @Test
    void aNewVersionTakesOverBetweenTwoProposalsOfARunningRequest() throws Exception {
        LlamaModel target = TinyPair.target();
        try (LiveDraft live = liveCopyOfDraft("d"); KvCachePool tp = target.newCachePool(1);
                KvCachePool dp = TinyPair.draft().newCachePool(1)) {
            TrainerSettings s = TrainerSettings.builder(TinyPair.VOCAB).optLearningRate(5e-2).optInterval(1)
                    .optReplay(0).optGuardWindow(0).optGuardTolerance(0).build();
            try (DraftTrainer trainer = new DraftTrainer(live, s, Runnable::run, null, TinyPair.manager())) {
                // the decoder takes every proposal from the live draft, which the trainer replaces after
                // every round: the request's draft cache is re-read with each new version
                SpeculativeDecoder online = new SpeculativeDecoder(target, tp, live, dp, null);
                SpeculativeDecoder plain = SpeculativeDecoder.targetOnly(target, tp, null);
                for (int i = 0; i < 6; i++) {
                    GenerationRequest request = new GenerationRequest(new int[] {1, 7 + i, 20}, 30,
                            SamplingParams.GREEDY, null, true, 3);
                    GenerationResult r = online.generate(request, new GenerationListener() {
                        @Override
                        public void onRound(SpeculationRound round) {
                            trainer.offer(round);
                        }
                    });
                    assertArrayEquals(plain.generate(request).tokens(), r.tokens(), "prompt " + i);
                    assertTrue(r.stats().draftVersionChanges() >= 3, "versions changed mid-request: "
                            + r.stats().draftVersionChanges());
                    assertTrue(r.stats().lastDraftVersion() > r.stats().firstDraftVersion());
                }
            }
        }
    }
}
