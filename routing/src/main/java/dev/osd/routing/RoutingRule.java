package dev.osd.routing;

import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Sends queries to a draft by their text: any keyword (case-insensitive substring) or any regular expression
 * (found anywhere in the query) matches.
 */
public record RoutingRule(String draft, List<String> keywords, List<Pattern> patterns) {

    public RoutingRule {
        if (draft == null || draft.isBlank()) {
            throw new IllegalArgumentException("a routing rule needs a draft name");
        }
        keywords = keywords.stream().map(k -> k.toLowerCase(Locale.ROOT)).toList();
        patterns = List.copyOf(patterns);
        if (keywords.isEmpty() && patterns.isEmpty()) {
            throw new IllegalArgumentException("routing rule for '" + draft + "' has neither keywords nor patterns");
        }
    }

    /** A rule from keyword strings and regular expressions (a bad expression is refused with its text). */
    public static RoutingRule of(String draft, List<String> keywords, List<String> regexes) {
        List<Pattern> compiled = regexes.stream().map(r -> {
            try {
                return Pattern.compile(r, Pattern.MULTILINE);
            } catch (java.util.regex.PatternSyntaxException e) {
                throw new IllegalArgumentException("routing rule for '" + draft + "': bad regular expression '" + r
                        + "': " + e.getDescription());
            }
        }).toList();
        return new RoutingRule(draft, keywords, compiled);
    }

    public boolean matches(String query) {
        String lower = query.toLowerCase(Locale.ROOT);
        for (String k : keywords) {
            if (lower.contains(k)) {
                return true;
            }
        }
        for (Pattern p : patterns) {
            if (p.matcher(query).find()) {
                return true;
            }
        }
        return false;
    }
}
