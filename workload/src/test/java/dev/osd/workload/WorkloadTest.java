package dev.osd.workload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class WorkloadTest {

    @Test
    void generatorsAreDeterministicBySeed() {
        for (QueryClass c : Workload.byName().values()) {
            assertEquals(c.generate(42), c.generate(42), c.name());
            assertEquals(Workload.examples(c, Workload.Split.TRAIN, 20, 3),
                    Workload.examples(c, Workload.Split.TRAIN, 20, 3), c.name());
            assertNotEquals(Workload.examples(c, Workload.Split.TRAIN, 20, 3),
                    Workload.examples(c, Workload.Split.TRAIN, 20, 4), c.name());
        }
    }

    @Test
    void classesAreCombinatoriallyLarge() {
        for (QueryClass c : Workload.CLASSES) {
            Set<String> prompts = new HashSet<>();
            for (Example e : Workload.examples(c, Workload.Split.TRAIN, 2000, 1)) {
                prompts.add(e.prompt());
            }
            // a few template combinations without numbers recur; the space as a whole is millions wide
            assertTrue(prompts.size() > 1700, c.name() + " repeats itself: " + prompts.size() + " of 2000 distinct");
        }
    }

    @Test
    void heldOutPromptsNeverAppearInTraining() {
        for (QueryClass c : Workload.byName().values()) {
            Set<String> train = new HashSet<>();
            for (Example e : Workload.examples(c, Workload.Split.TRAIN, 5000, 1)) {
                train.add(e.prompt());
                assertFalse(Workload.isHeldOut(e.prompt()));
            }
            for (Example e : Workload.examples(c, Workload.Split.HELD_OUT, 500, 1)) {
                assertTrue(Workload.isHeldOut(e.prompt()));
                assertFalse(train.contains(e.prompt()), c.name() + " held-out prompt in training: " + e.prompt());
            }
        }
    }

    @Test
    void answersFollowFromPrompts() {
        Example sql = new SqlQueries().generate(7);
        assertTrue(sql.prompt().startsWith("Schema: ") && sql.prompt().endsWith("\nSQL:"), sql.prompt());
        assertTrue(sql.answer().startsWith(" SELECT ") && sql.answer().endsWith(";"), sql.answer());
        for (long s = 0; s < 200; s++) {
            Example m = new MathProblems().generate(s);
            String[] steps = m.answer().split("\\. ");
            for (String step : steps) {
                String t = step.trim().replaceAll("\\.$", "");
                if (t.matches("\\d+ [-+*] \\d+ = \\d+")) {
                    String[] p = t.split(" ");
                    int a = Integer.parseInt(p[0]);
                    int b = Integer.parseInt(p[2]);
                    int r = Integer.parseInt(p[4]);
                    assertEquals(p[1].equals("+") ? a + b : p[1].equals("-") ? a - b : a * b, r, m.answer());
                }
            }
        }
        Example code = new CodeFunctions().generate(3);
        assertTrue(code.prompt().startsWith("# Return ") && code.prompt().endsWith("\ndef"));
        assertTrue(code.answer().contains("):\n    return "), code.answer());
    }

    @Test
    void unknownClassIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Workload.get("poetry"));
        assertTrue(e.getMessage().contains("poetry") && e.getMessage().contains("sql"));
    }

    @Test
    void schedulesHaveTheirShape() {
        List<String> classes = List.of("a", "b", "c");
        List<String> sharp = TrafficSchedule.classes(TrafficSchedule.Kind.SHARP, classes, 300, 1);
        assertEquals(List.of(100, 200), TrafficSchedule.boundaries(sharp));
        assertEquals("a", sharp.get(0));
        assertEquals("c", sharp.get(299));
        List<String> mixed = TrafficSchedule.classes(TrafficSchedule.Kind.MIXED, classes, 3000, 1);
        for (String c : classes) {
            long n = mixed.stream().filter(c::equals).count();
            assertEquals(1000, n, c);
        }
        assertTrue(TrafficSchedule.boundaries(mixed).size() > 1000, "classes interleave");
        List<String> smooth = TrafficSchedule.classes(TrafficSchedule.Kind.SMOOTH, classes, 3000, 1);
        assertEquals("a", smooth.get(0));
        assertEquals("c", smooth.get(2999));
        long bInMiddle = smooth.subList(1400, 1600).stream().filter("b"::equals).count();
        assertTrue(bInMiddle > 150, "b dominates the middle of a smooth shift: " + bInMiddle);
        long aInFirstTenth = smooth.subList(0, 300).stream().filter("a"::equals).count();
        assertTrue(aInFirstTenth > 200 && aInFirstTenth < 300, "a fades out gradually: " + aInFirstTenth);
        assertEquals(TrafficSchedule.Kind.SMOOTH, TrafficSchedule.Kind.parse("smooth"));
        assertThrows(IllegalArgumentException.class, () -> TrafficSchedule.Kind.parse("zigzag"));
    }
}
