package dev.osd.distillation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TrainerSettingsTest {

    @Test
    void defaultsAreTheMeasuredOnes() {
        TrainerSettings d = TrainerSettings.defaults(4096);
        // Divergence has identity equality: compare its name, then the record with the same instance
        assertEquals("fkl", d.divergence().name());
        assertEquals(new TrainerSettings(8, 32, 8, 1e-3, 1.0, 0.0, d.divergence(), RecordPolicy.ALL_VERIFIED,
                0, 256, 512, 1024, 512, 0.05, 100, 1, 2), d);
        assertEquals(64, TrainerSettings.defaults(4097).topN());
    }

    @Test
    void maxFreshFollowsALargerIntervalUnlessSet() {
        assertEquals(32, TrainerSettings.builder(64).optInterval(2).build().maxFresh());
        assertEquals(40, TrainerSettings.builder(64).optInterval(40).build().maxFresh());
        assertEquals(50, TrainerSettings.builder(64).optInterval(40).optMaxFresh(50).build().maxFresh());
        assertThrows(IllegalArgumentException.class,
                () -> TrainerSettings.builder(64).optInterval(40).optMaxFresh(30).build());
    }

    @Test
    void toBuilderCopiesEveryField() {
        TrainerSettings s = TrainerSettings.builder(64).optInterval(3).optMaxFresh(7).optReplay(5)
                .optLearningRate(2e-3).optClipNorm(0.5).optWeightDecay(0.01).optDivergence(Divergence.parse("tvd"))
                .optPolicy(RecordPolicy.parse("mistakes")).optTopN(16).optFreshCapacity(11).optRecentCapacity(13)
                .optReservoirCapacity(17).optGuardWindow(19).optGuardTolerance(0.2).optSaveEvery(23).optSeed(29)
                .optSteps(3).build();
        assertEquals(s, s.toBuilder().build());
        TrainerSettings slower = s.toBuilder().optLearningRate(1e-4).build();
        assertEquals(1e-4, slower.learningRate());
        assertEquals(s.divergence(), slower.divergence());
        assertEquals(s.seed(), slower.seed());
    }
}
