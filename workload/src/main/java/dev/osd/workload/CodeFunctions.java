package dev.osd.workload;

/** A one-line description of a function, answered with a short Python function (like Code-search-Python). */
final class CodeFunctions implements QueryClass {

    private static final String[] ARGS = {"values", "numbers", "items", "xs", "data", "nums", "scores", "prices",
        "counts", "sizes", "weights", "ages", "totals", "points", "rows", "amounts"};

    @Override
    public String name() {
        return "code";
    }

    @Override
    public Example generate(long seed) {
        Dice d = new Dice(seed);
        String arg = d.pick(ARGS);
        int n = d.between(1, 99);
        int m = d.between(1, 99);
        int k = d.between(2, 9);
        // what is computed of each element
        String[][] transforms = {
            {"", "x", ""},
            {"the squares of ", "x * x", "squares"},
            {"the doubles of ", "2 * x", "doubles"},
            {"the absolute values of ", "abs(x)", "abs"},
            {"the elements plus " + n + " of ", "x + " + n, "plus_" + n},
            {"the elements minus " + n + " of ", "x - " + n, "minus_" + n},
            {"the elements times " + k + " of ", "x * " + k, "times_" + k},
        };
        String[][] filters = {
            {"", "", ""},
            {" that are even", " if x % 2 == 0", "even"},
            {" that are odd", " if x % 2 == 1", "odd"},
            {" that are positive", " if x > 0", "positive"},
            {" greater than " + m, " if x > " + m, "above_" + m},
            {" less than " + m, " if x < " + m, "below_" + m},
            {" divisible by " + k, " if x % " + k + " == 0", "divisible_" + k},
            {" not equal to " + m, " if x != " + m, "not_" + m},
        };
        String[] t = d.pick(transforms);
        String[] f = d.pick(filters);
        int aggregate = d.between(0, 4);
        String description;
        String body;
        String fname;
        String items = t[0] + "the elements of " + arg + f[0];
        String expression = t[1] + " for x in " + arg + f[1];
        String suffix = (t[2].isEmpty() ? "" : "_" + t[2]) + (f[2].isEmpty() ? "" : "_" + f[2]);
        switch (aggregate) {
            case 0 -> {
                description = "Return the sum of " + items + ".";
                body = "return sum(" + expression + ")";
                fname = "sum" + suffix;
            }
            case 1 -> {
                description = "Return the largest of " + items + ".";
                body = "return max(" + expression + ")";
                fname = "max" + suffix;
            }
            case 2 -> {
                description = "Return the smallest of " + items + ".";
                body = "return min(" + expression + ")";
                fname = "min" + suffix;
            }
            case 3 -> {
                description = "Return how many elements of " + arg + f[0] + " there are.";
                body = "return sum(1 for x in " + arg + f[1] + ")";
                fname = "count" + (f[2].isEmpty() ? "" : "_" + f[2]);
            }
            default -> {
                description = "Return a list of " + items + ".";
                body = "return [" + expression + "]";
                fname = "list" + suffix;
            }
        }
        String prompt = "# " + description + "\ndef";
        String answer = " " + fname + "(" + arg + "):\n    " + body + "\n";
        return new Example(name(), prompt, answer);
    }
}
