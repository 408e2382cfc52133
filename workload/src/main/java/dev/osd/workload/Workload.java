package dev.osd.workload;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The project's query classes and the split between training and held-out examples. An example belongs to
 * the held-out split when a hash of its prompt falls in one tenth of the space, and held-out examples are
 * drawn from a seed range that training never touches; so no held-out prompt ever appears in training, as
 * text, not only as seed.
 */
public final class Workload {

    /** The classes of the embedded workload, in a stable order. */
    public static final List<QueryClass> CLASSES = List.of(new SqlQueries(), new MathProblems(),
            new CodeFunctions(), new SupportAnswers());

    /** Text that belongs to no class. */
    public static final QueryClass GENERAL = new GeneralText();

    /** Generic snippets of SQL, code, arithmetic and service phrases: the base draft's "pretraining web". */
    public static final QueryClass WEB = new WebSnippets();

    private static final long HELD_OUT_SEEDS = 1L << 40;

    /** Which examples are used. */
    public enum Split {
        TRAIN, HELD_OUT
    }

    private Workload() {
    }

    /**
     * The prompts of a class without their answers: what a base draft may learn from a class without ever
     * seeing how it is answered. Same seeds and split as the class itself.
     */
    public static QueryClass promptsOnly(QueryClass c) {
        return new QueryClass() {
            @Override
            public String name() {
                return c.name() + "-prompts";
            }

            @Override
            public Example generate(long seed) {
                Example e = c.generate(seed);
                return new Example(name(), e.prompt(), "");
            }
        };
    }

    /** Every class by name, general text included. */
    public static Map<String, QueryClass> byName() {
        Map<String, QueryClass> m = new LinkedHashMap<>();
        for (QueryClass c : CLASSES) {
            m.put(c.name(), c);
        }
        m.put(GENERAL.name(), GENERAL);
        return m;
    }

    public static QueryClass get(String name) {
        QueryClass c = byName().get(name);
        if (c == null) {
            throw new IllegalArgumentException("unknown query class '" + name + "' (known: " + byName().keySet() + ")");
        }
        return c;
    }

    /** Whether a prompt belongs to the held-out split (a fixed hash of its text). */
    public static boolean isHeldOut(String prompt) {
        long h = 1125899906842597L;
        for (int i = 0; i < prompt.length(); i++) {
            h = 31 * h + prompt.charAt(i);
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        return Math.floorMod(h, 10) == 0;
    }

    /**
     * The n-th example of a class in a split: deterministic by (class, split, index, seed); the train split
     * uses seeds below 2^40, the held-out split seeds from 2^40, and each split keeps only its hash side.
     */
    public static Example example(QueryClass c, Split split, long index, long seed) {
        SplittableRandom stream = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + c.name().hashCode())
                .split();
        long base = split == Split.TRAIN ? 0 : HELD_OUT_SEEDS;
        long probe = base + Math.floorMod(mix(index, stream.nextLong()), HELD_OUT_SEEDS);
        while (true) {
            Example e = c.generate(probe);
            if (isHeldOut(e.prompt()) == (split == Split.HELD_OUT)) {
                return e;
            }
            probe = base + Math.floorMod(mix(probe, 0x5DEECE66DL), HELD_OUT_SEEDS);
        }
    }

    /** n examples of a split, index 0..n-1. */
    public static List<Example> examples(QueryClass c, Split split, int n, long seed) {
        List<Example> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(example(c, split, i, seed));
        }
        return list;
    }

    private static long mix(long a, long b) {
        long z = a * 0xBF58476D1CE4E5B9L + b;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
