package dev.osd.workload;

import java.util.List;

/**
 * Generic snippets of the kinds of text a web-scale corpus holds: SQL over other schemas, small Python
 * functions, arithmetic, polite service phrases. A base draft learns the surface of these domains from them,
 * as a pretrained draft would, without ever seeing a query class's templates or answers.
 */
final class WebSnippets implements QueryClass {

    private static final List<String> TABLES = List.of("users", "items", "logs", "events", "books", "cars",
            "movies", "sensors", "tickets", "invoices");
    private static final List<String> COLUMNS = List.of("id", "title", "value", "created", "owner", "kind", "year",
            "rating", "level", "total", "color", "region");
    private static final List<String> WORDS = List.of("red", "north", "open", "draft", "gold", "alpha", "basic",
            "urgent", "blue", "closed");
    private static final List<String> NAMES = List.of("a", "b", "n", "s", "total", "count", "result", "item", "row",
            "key");
    private static final List<String> FUNCTIONS = List.of("area", "mean", "clamp", "scale", "norm", "score",
            "parse", "merge", "split", "check");
    private static final List<String> PHRASES = List.of("Thank you for contacting us.", "We are happy to help.",
            "Please check your email for a confirmation.", "Your request has been received.",
            "Our team will reply within two days.", "You can find this option in the settings.",
            "We apologize for the inconvenience.", "Let us know if you have any other questions.",
            "Please keep your receipt.", "Have a nice day.");

    @Override
    public String name() {
        return "web";
    }

    @Override
    public Example generate(long seed) {
        Dice d = new Dice(seed);
        String first = snippet(d);
        StringBuilder rest = new StringBuilder();
        int n = d.between(1, 3);
        for (int i = 0; i < n; i++) {
            rest.append('\n').append(snippet(d));
        }
        return new Example(null, first, rest.toString());
    }

    private static String snippet(Dice d) {
        return switch (d.between(0, 3)) {
            case 0 -> sql(d);
            case 1 -> python(d);
            case 2 -> arithmetic(d);
            default -> d.pick(PHRASES) + " " + d.pick(PHRASES);
        };
    }

    private static String sql(Dice d) {
        String table = d.pick(TABLES);
        String a = d.pick(COLUMNS);
        String b = d.pick(COLUMNS);
        return switch (d.between(0, 2)) {
            case 0 -> "SELECT " + a + ", " + b + " FROM " + table + " WHERE " + b + " > " + d.between(0, 500) + ";";
            case 1 -> "SELECT COUNT(*) FROM " + table + " WHERE " + a + " = '" + d.pick(WORDS) + "';";
            default -> "SELECT " + a + " FROM " + table + " ORDER BY " + b + " LIMIT " + d.between(1, 50) + ";";
        };
    }

    private static String python(Dice d) {
        String f = d.pick(FUNCTIONS);
        String x = d.pick(NAMES);
        String y = d.pick(NAMES);
        return switch (d.between(0, 2)) {
            case 0 -> "def " + f + "(" + x + ", " + y + "):\n    return " + x + " * " + y + " + " + d.between(0, 9);
            case 1 -> "for " + x + " in range(" + d.between(1, 100) + "):\n    print(" + x + ")";
            default -> "def " + f + "(" + x + "):\n    return [" + y + " for " + y + " in " + x + " if " + y + " > 0]";
        };
    }

    private static String arithmetic(Dice d) {
        int a = d.between(1, 40);
        int b = d.between(1, 40);
        return switch (d.between(0, 2)) {
            case 0 -> a + " + " + b + " = " + (a + b) + ".";
            case 1 -> Math.max(a, b) + " - " + Math.min(a, b) + " = " + (Math.max(a, b) - Math.min(a, b)) + ".";
            default -> (a % 10 + 1) + " * " + (b % 10 + 1) + " = " + ((a % 10 + 1) * (b % 10 + 1)) + ".";
        };
    }
}
