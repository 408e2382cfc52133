package dev.osd.workload;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The order in which query classes arrive, as in the paper's experiments: a fixed mix (equal shares in random
 * order), a sharp shift
 * (blocks of one class after another) or a smooth shift (proportions moving linearly from one class to the
 * next over the run).
 */
public final class TrafficSchedule {

    /** The schedules by name. */
    public enum Kind {
        MIXED, SHARP, SMOOTH;

        public static Kind parse(String s) {
            try {
                return valueOf(s.toUpperCase());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown schedule '" + s + "' (mixed, sharp or smooth)");
            }
        }
    }

    private TrafficSchedule() {
    }

    /**
     * The class of each of {@code total} requests.
     *
     * @param classes the classes in the order a shift visits them
     */
    public static List<String> classes(Kind kind, List<String> classes, int total, long seed) {
        if (classes.isEmpty() || total < 0) {
            throw new IllegalArgumentException("a schedule needs classes and a non-negative length");
        }
        SplittableRandom random = new SplittableRandom(seed);
        int k = classes.size();
        List<String> out = new ArrayList<>(total);
        if (kind == Kind.MIXED) {
            // a shuffled deck: every class gets its share exactly (total / k each, the remainder spread), in
            // random order
            for (int i = 0; i < total; i++) {
                out.add(classes.get(i % k));
            }
            for (int i = total - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                String t = out.get(i);
                out.set(i, out.get(j));
                out.set(j, t);
            }
            return out;
        }
        for (int i = 0; i < total; i++) {
            switch (kind) {
                case MIXED -> throw new AssertionError("handled above");
                case SHARP -> out.add(classes.get(Math.min(k - 1, (int) ((long) i * k / total))));
                case SMOOTH -> {
                    if (k == 1) {
                        out.add(classes.get(0));
                        break;
                    }
                    // position along the run in units of classes: between class j and j+1 the share of j+1
                    // grows linearly from 0 to 1
                    double x = (double) i / Math.max(1, total - 1) * (k - 1);
                    int j = Math.min(k - 2, (int) x);
                    out.add(classes.get(random.nextDouble() < x - j ? j + 1 : j));
                }
            }
        }
        return out;
    }

    /** Request indices at which a sharp schedule switches class (for plots). */
    public static List<Integer> boundaries(List<String> schedule) {
        List<Integer> b = new ArrayList<>();
        for (int i = 1; i < schedule.size(); i++) {
            if (!schedule.get(i).equals(schedule.get(i - 1))) {
                b.add(i);
            }
        }
        return b;
    }
}
