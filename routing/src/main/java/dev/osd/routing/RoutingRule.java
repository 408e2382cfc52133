package dev.osd.routing;

import java.util.List;
import java.util.Locale;
import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;

/**
 * Sends queries to a draft by their text: any keyword (case-insensitive substring) or any regular expression
 * (found anywhere in the query) matches. Expressions are RE2's (RE2/J): matching takes time linear in the
 * query whatever the pattern, so a pattern added at run time cannot stall the router; the price is no
 * backreferences or lookaround, which are refused when the rule is made.
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
                return compile(r);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("routing rule for '" + draft + "': " + e.getMessage(), e);
            }
        }).toList();
        return new RoutingRule(draft, keywords, compiled);
    }

    /**
     * A routing expression as the rules compile it (RE2 syntax, {@code ^} and {@code $} at line ends), or an
     * {@link IllegalArgumentException} naming the expression and what RE2 cannot take in it.
     */
    public static Pattern compile(String regex) {
        try {
            return Pattern.compile(regex, Pattern.MULTILINE);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("'" + regex + "' is not a regular expression RE2 accepts ("
                    + e.getDescription() + "; backreferences and lookaround are not supported, since they can "
                    + "take exponential time)");
        }
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
