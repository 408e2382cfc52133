package dev.osd.workload;

import java.util.List;

/** Arithmetic word problems answered with a worked solution (like GSM8K, with small numbers). */
final class MathProblems implements QueryClass {

    private static final List<String> NAMES = List.of("Mia", "Tom", "Lena", "Omar", "Sara", "Jin", "Paul", "Rosa",
            "Ivan", "Nora", "Ali", "Kate", "Leo", "Zoe", "Sam", "Ava");
    private static final List<String> THINGS = List.of("apples", "pencils", "marbles", "stickers", "books",
            "cookies", "coins", "cards", "shells", "balloons", "stamps", "toys");
    private static final List<String> FRIENDS = List.of("a friend", "her brother", "his sister", "a neighbor",
            "the teacher", "a classmate");

    @Override
    public String name() {
        return "math";
    }

    @Override
    public Example generate(long seed) {
        Dice d = new Dice(seed);
        String who = d.pick(NAMES);
        String thing = d.pick(THINGS);
        int total = d.between(2, 30);
        StringBuilder question = new StringBuilder(who + " has " + total + " " + thing + ".");
        StringBuilder answer = new StringBuilder(" " + who + " starts with " + total + " " + thing + ".");
        int steps = d.between(1, 3);
        for (int i = 0; i < steps; i++) {
            int kind = d.between(0, 2);
            if (kind == 0) {
                int n = d.between(1, 20);
                question.append(" Then ").append(who).append(" finds ").append(n).append(" more.");
                answer.append(" ").append(total).append(" + ").append(n).append(" = ").append(total + n).append('.');
                total += n;
            } else if (kind == 1 && total > 1) {
                int n = d.between(1, total - 1);
                question.append(" Then ").append(who).append(" gives ").append(n).append(" to ")
                        .append(d.pick(FRIENDS)).append('.');
                answer.append(" ").append(total).append(" - ").append(n).append(" = ").append(total - n).append('.');
                total -= n;
            } else {
                int boxes = d.between(2, 9);
                int each = d.between(2, 9);
                question.append(" Then ").append(who).append(" buys ").append(boxes).append(" bags with ")
                        .append(each).append(" ").append(thing).append(" in each bag.");
                answer.append(" ").append(boxes).append(" * ").append(each).append(" = ").append(boxes * each)
                        .append(". ").append(total).append(" + ").append(boxes * each).append(" = ")
                        .append(total + boxes * each).append('.');
                total += boxes * each;
            }
        }
        question.append(" How many ").append(thing).append(" does ").append(who).append(" have now?");
        answer.append(" The answer is ").append(total).append('.');
        return new Example(name(), "Question: " + question + "\nAnswer:", answer.toString());
    }
}
