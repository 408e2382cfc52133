package dev.osd.tests;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for checking /metrics where promtool is not
 * installed: every family declared once with HELP and TYPE before its samples, names and labels in the legacy
 * character set, label values correctly escaped, every sample a series of its family's type, no series twice,
 * histogram buckets cumulative and ending in {@code +Inf} equal to {@code _count}. Counters must end in
 * {@code _total}, as promtool's lint asks.
 */
final class ExpositionFormat {

    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

    /** One sample: its metric name, labels (sorted by name) and value. */
    record Sample(String name, Map<String, String> labels, double value) {
        String labelsWithout(String name) {
            Map<String, String> m = new TreeMap<>(labels);
            m.remove(name);
            return m.toString();
        }
    }

    /** A family: its type, help and samples. */
    record Family(String name, String type, String help, List<Sample> samples) {
    }

    private ExpositionFormat() {
    }

    /** The families of {@code text}, or an {@link AssertionError} naming the first line that breaks the format. */
    static Map<String, Family> parse(String text) {
        Map<String, Family> families = new LinkedHashMap<>();
        Map<String, String> help = new HashMap<>();
        Set<String> series = new HashSet<>();
        Family current = null;
        String[] lines = text.split("\n", -1);
        if (!text.endsWith("\n")) {
            throw new AssertionError("the exposition must end with a newline");
        }
        for (int n = 0; n < lines.length - 1; n++) {
            String line = lines[n];
            String where = "line " + (n + 1) + ": " + line;
            if (line.startsWith("# HELP ")) {
                String[] parts = line.substring(7).split(" ", 2);
                check(NAME.matcher(parts[0]).matches(), "bad metric name", where);
                check(!help.containsKey(parts[0]), "HELP twice", where);
                check(parts.length == 2 && !parts[1].isBlank(), "HELP without text", where);
                help.put(parts[0], parts[1]);
            } else if (line.startsWith("# TYPE ")) {
                String[] parts = line.substring(7).split(" ");
                check(parts.length == 2, "TYPE needs a name and a type", where);
                check(NAME.matcher(parts[0]).matches(), "bad metric name", where);
                check(List.of("counter", "gauge", "histogram", "summary", "untyped").contains(parts[1]), "bad type",
                        where);
                check(!families.containsKey(parts[0]), "family declared twice", where);
                check(help.containsKey(parts[0]), "TYPE before HELP (or without it)", where);
                if (parts[1].equals("counter")) {
                    check(parts[0].endsWith("_total"), "a counter's name should end in _total", where);
                }
                current = new Family(parts[0], parts[1], help.get(parts[0]), new ArrayList<>());
                families.put(parts[0], current);
            } else if (line.startsWith("#")) {
                continue;
            } else {
                check(!line.isEmpty(), "empty line", where);
                Sample s = sample(line, where);
                check(current != null && belongs(current, s.name()), "sample outside its family", where);
                check(series.add(s.name() + s.labels()), "series twice", where);
                current.samples().add(s);
            }
        }
        families.values().forEach(ExpositionFormat::checkHistogram);
        return families;
    }

    private static boolean belongs(Family f, String sample) {
        String base = f.type().equals("counter") ? f.name().substring(0, f.name().length() - "_total".length())
                : f.name();
        return switch (f.type()) {
            case "counter" -> sample.equals(f.name()) || sample.equals(base + "_created");
            case "histogram" -> sample.equals(base + "_bucket") || sample.equals(base + "_sum")
                    || sample.equals(base + "_count") || sample.equals(base + "_created");
            case "summary" -> sample.equals(base) || sample.equals(base + "_sum") || sample.equals(base + "_count")
                    || sample.equals(base + "_created");
            default -> sample.equals(base);
        };
    }

    private static void checkHistogram(Family f) {
        if (!f.type().equals("histogram")) {
            return;
        }
        Map<String, List<Sample>> buckets = new LinkedHashMap<>();
        Map<String, Double> counts = new HashMap<>();
        for (Sample s : f.samples()) {
            if (s.name().endsWith("_bucket")) {
                check(s.labels().containsKey("le"), "a bucket without le", f.name());
                buckets.computeIfAbsent(s.labelsWithout("le"), k -> new ArrayList<>()).add(s);
            } else if (s.name().endsWith("_count")) {
                counts.put(s.labelsWithout("le"), s.value());
            }
        }
        buckets.forEach((labels, list) -> {
            double previousBound = Double.NEGATIVE_INFINITY;
            double previous = 0;
            for (Sample b : list) {
                double bound = bound(b.labels().get("le"), f.name());
                check(bound > previousBound, "buckets out of order", f.name() + labels);
                check(b.value() >= previous, "buckets not cumulative", f.name() + labels);
                previousBound = bound;
                previous = b.value();
            }
            check(list.get(list.size() - 1).labels().get("le").equals("+Inf"), "no +Inf bucket", f.name() + labels);
            check(counts.containsKey(labels) && counts.get(labels) == previous, "+Inf bucket differs from _count",
                    f.name() + labels);
        });
    }

    private static double bound(String le, String where) {
        if (le.equals("+Inf")) {
            return Double.POSITIVE_INFINITY;
        }
        try {
            return Double.parseDouble(le);
        } catch (NumberFormatException e) {
            throw new AssertionError("le is not a number: " + le + " in " + where);
        }
    }

    private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? (\\S+)( -?\\d+)?");

    private static Sample sample(String line, String where) {
        Matcher m = SAMPLE.matcher(line);
        check(m.matches(), "not a sample line", where);
        Map<String, String> labels = new TreeMap<>();
        if (m.group(3) != null) {
            String body = m.group(3);
            int i = 0;
            while (i < body.length()) {
                int eq = body.indexOf('=', i);
                check(eq > i, "a label without =", where);
                String name = body.substring(i, eq);
                check(LABEL.matcher(name).matches() && !name.startsWith("__"), "bad label name '" + name + "'", where);
                check(eq + 1 < body.length() && body.charAt(eq + 1) == '"', "a label value must be quoted", where);
                StringBuilder value = new StringBuilder();
                int j = eq + 2;
                for (; j < body.length() && body.charAt(j) != '"'; j++) {
                    char c = body.charAt(j);
                    if (c == '\\') {
                        char e = body.charAt(++j);
                        check(e == '\\' || e == '"' || e == 'n', "bad escape \\" + e, where);
                        value.append(e == 'n' ? '\n' : e);
                    } else {
                        value.append(c);
                    }
                }
                check(j < body.length(), "an unterminated label value", where);
                check(labels.put(name, value.toString()) == null, "label '" + name + "' twice", where);
                i = j + 1;
                if (i < body.length()) {
                    check(body.charAt(i) == ',', "labels must be separated by commas", where);
                    i++;
                }
            }
        }
        double value;
        String v = m.group(4);
        try {
            value = v.equals("+Inf") ? Double.POSITIVE_INFINITY : v.equals("-Inf") ? Double.NEGATIVE_INFINITY
                    : v.equals("NaN") ? Double.NaN : Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new AssertionError("not a value: " + v + " at " + where);
        }
        return new Sample(m.group(1), labels, value);
    }

    private static void check(boolean ok, String what, String where) {
        if (!ok) {
            throw new AssertionError(what + " (" + where + ")");
        }
    }
}
