package dev.osd.workload;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Traffic whose answers repeat text served before, of a kind no query class makes: a small set of tasks built
 * from the workload's held-out examples, asked again and again verbatim, with a reworded preface, or with a
 * reference answer to copy from in the prompt ("repeat with changes", extraction). What the target answers to
 * one is mostly what it answered to an earlier one, so a suffix proposer can propose long spans of it. Written
 * as JSON Lines ({@link TrafficFile}) for {@code bench online --traffic} and {@code bench serve --traffic}.
 */
public final class RepetitiveTraffic {

    private static final String[] PREFACES = {"", "Again: ", "Once more, please. ", "Same task: "};

    private RepetitiveTraffic() {
    }

    /**
     * @param tasks distinct tasks the requests draw from (fewer: more repetition)
     */
    public static List<Example> generate(int requests, int tasks, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Example> base = new ArrayList<>();
        for (int t = 0; t < tasks; t++) {
            QueryClass c = Workload.CLASSES.get(t % Workload.CLASSES.size());
            base.add(Workload.example(c, Workload.Split.HELD_OUT, t / Workload.CLASSES.size(), seed));
        }
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            // a skewed choice: a few tasks come back often, as in real traffic
            int t = (int) Math.min(tasks - 1, Math.floor(tasks * Math.pow(r.nextDouble(), 1.5)));
            Example e = base.get(t);
            String prompt = switch (r.nextInt(4)) {
                case 0, 1 -> PREFACES[r.nextInt(PREFACES.length)] + e.prompt();
                case 2 -> "Here is an earlier answer: " + e.answer() + "\n" + e.prompt();
                default -> "Copy this, then answer: " + e.answer() + "\n" + e.prompt();
            };
            out.add(new Example("repetitive", prompt, e.answer()));
        }
        return out;
    }
}
