package dev.osd.distillation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ReplayBufferTest {

    /** A one-position record whose first token tells which "class" it came from. */
    static DistillationRecord record(int classId) {
        float[] p = new float[4];
        p[classId % 4] = 1;
        return new DistillationRecord(new int[] {classId, 7}, new int[] {1}, new TargetDistribution[] {
                new TargetDistribution(null, p, 0)});
    }

    @Test
    void freshRecordsWaitForAnUpdateThenJoinHistory() {
        ReplayBuffer b = new ReplayBuffer(16, 8, 8, 1);
        for (int i = 0; i < 5; i++) {
            b.add(record(0));
        }
        assertEquals(5, b.freshCount());
        assertEquals(0, b.sample(4).size(), "nothing trained yet, nothing to replay");
        assertEquals(3, b.takeFresh(3).size());
        assertEquals(2, b.freshCount());
        assertEquals(3, b.sample(10).size());
    }

    @Test
    void memoryIsBoundedAndALaggingTrainerDropsTheOldestUntrained() {
        ReplayBuffer b = new ReplayBuffer(10, 20, 30, 1);
        for (int i = 0; i < 10_000; i++) {
            b.add(record(i));
        }
        assertEquals(10 + 20 + 30, b.size());
        assertEquals(10_000 - 10, b.droppedUntrained());
        assertEquals(10, b.takeFresh(100).size());
        assertTrue(b.floats() < 60 * 10);
    }

    @Test
    void theReservoirKeepsAQuietClassAvailableForReplay() {
        ReplayBuffer b = new ReplayBuffer(8, 32, 64, 2);
        for (int i = 0; i < 200; i++) {
            b.add(record(0)); // class A
            b.takeFresh(8);
        }
        for (int i = 0; i < 2000; i++) {
            b.add(record(1)); // then only class B, ten times as much
            b.takeFresh(8);
        }
        List<DistillationRecord> replay = b.sample(96);
        long a = replay.stream().filter(r -> r.tokens()[0] == 0).count();
        // the recent window is all B; the reservoir holds A in proportion 200/2200 of what it has seen
        assertTrue(a >= 1, "class A still replayed: " + a + " of " + replay.size());
        assertTrue(b.reservoirSize() == 64);
    }

    @Test
    void recordsOfOneRequestAreScoredInOneSequence() {
        TargetDistribution t = new TargetDistribution(null, new float[] {1, 0, 0, 0}, 0);
        DistillationRecord first = new DistillationRecord(new int[] {1, 2, 3}, new int[] {2}, new TargetDistribution[] {t});
        DistillationRecord second = new DistillationRecord(new int[] {1, 2, 3, 0, 2}, new int[] {3, 4},
                new TargetDistribution[] {t, t});
        DistillationRecord other = new DistillationRecord(new int[] {1, 3}, new int[] {1}, new TargetDistribution[] {t});
        List<DistillationRecord> merged = DistillationBatch.coalesce(List.of(first, other, second));
        assertEquals(2, merged.size());
        assertEquals(3, merged.get(0).positions().length);
        assertEquals(List.of(3, 4, 2), java.util.Arrays.stream(merged.get(0).positions()).boxed().toList());
        assertEquals(1, merged.get(1).positions().length);
    }

    @Test
    void recordsOfOneKindAreFoundNewestFirstInEveryPartOfTheBuffer() {
        ReplayBuffer b = new ReplayBuffer(4, 4, 8, 1);
        for (int i = 0; i < 40; i++) {
            b.add(record(i));
            if (i % 3 == 0) {
                b.takeFresh(2);
            }
        }
        List<DistillationRecord> even = b.matching(r -> r.tokens()[0] % 2 == 0, 100);
        assertTrue(even.stream().allMatch(r -> r.tokens()[0] % 2 == 0));
        assertEquals(b.matching(r -> true, 100).stream().filter(r -> r.tokens()[0] % 2 == 0).count(), even.size());
        assertEquals(38, even.get(0).tokens()[0], "the newest first");
        assertEquals(2, b.matching(r -> r.tokens()[0] % 2 == 0, 2).size());
        assertEquals(b.size(), b.matching(r -> true, 1000).size());
    }
}
