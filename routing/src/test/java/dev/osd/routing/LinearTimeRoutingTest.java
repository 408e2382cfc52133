package dev.osd.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Issue 15 #6: a routing pattern that backtracks catastrophically under java.util.regex stalled the router for
 * good. Under RE2/J every pattern matches in linear time, and the ones RE2 cannot take are refused by name.
 */
class LinearTimeRoutingTest {

    @Test
    void aPatternThatWouldBacktrackForeverMatchesInLinearTime() {
        RoutingRule nested = RoutingRule.of("a", List.of(), List.of("^(a+)+$", "(x+x+)+y"));
        Router router = new Router(List.of(nested), "general", null, 0);
        // java.util.regex takes about 2^40 steps on the first, and on the second for 40 x's
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            assertEquals(Optional.empty(), router.classify("a".repeat(40) + "!"));
            assertEquals(Optional.empty(), router.classify("x".repeat(40)));
            assertEquals(Optional.empty(), router.classify("a".repeat(200_000) + "!"));
            assertEquals("general", router.route("a".repeat(40) + "!", null).draft());
        });
        assertTrue(nested.matches("aaaa"));
        assertTrue(nested.matches("xxxy"));
    }

    @Test
    void patternsRe2CannotTakeAreRefusedNamingThem() {
        for (String p : List.of("^(a+)+\\1$", "(?=a)b", "(?<!a)b", "(unclosed")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> RoutingRule.of("x", List.of(), List.of(p)));
            assertTrue(e.getMessage().contains("'" + p + "'"), e.getMessage());
        }
    }

    @Test
    void theEmbeddedRulesStillClassifyAsBefore() {
        Router router = new Router(Router.embeddedRules(), "general", null, 0);
        assertEquals(Optional.of("sql"), router.classify("SELECT name FROM users"));
        assertEquals(Optional.of("code"), router.classify("# add two numbers\ndef "));
        assertEquals(Optional.of("code"), router.classify("  def add(a, b):"));
        assertEquals(Optional.of("math"), router.classify("what is 12 * 7"));
        assertEquals(Optional.of("finance"), router.classify("my card payment"));
        assertFalse(router.classify("hello there").isPresent());
    }
}
