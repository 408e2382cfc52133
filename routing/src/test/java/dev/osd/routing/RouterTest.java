package dev.osd.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.workload.Example;
import dev.osd.workload.QueryClass;
import dev.osd.workload.Workload;
import java.util.List;
import org.junit.jupiter.api.Test;

class RouterTest {

    @Test
    void embeddedRulesSendEachWorkloadClassToItsDraft() {
        Router router = new Router(Router.embeddedRules(), "general", null, 0);
        for (QueryClass c : Workload.CLASSES) {
            int right = 0;
            for (Example e : Workload.examples(c, Workload.Split.HELD_OUT, 100, 3)) {
                Router.Route r = router.route(e.prompt(), null);
                if (r.draft().equals(c.name()) && r.reason() == Router.Reason.RULE) {
                    right++;
                }
            }
            assertTrue(right >= 95, c.name() + ": " + right + " of 100 routed by rule");
        }
        int general = 0;
        for (Example e : Workload.examples(Workload.GENERAL, Workload.Split.HELD_OUT, 100, 3)) {
            if (router.route(e.prompt(), null).reason() == Router.Reason.GENERAL) {
                general++;
            }
        }
        assertTrue(general >= 80, "general text that fits no class goes to the general draft: " + general);
    }

    @Test
    void aNamedDraftWinsAndAnUnknownOneIsRefused() {
        Router router = new Router(Router.embeddedRules(), "general", null, 0);
        Router.Route r = router.route("Schema: t(a)\nQuestion: how many rows", "math");
        assertEquals("math", r.draft());
        assertEquals(Router.Reason.REQUESTED, r.reason());
        assertEquals("sql", r.queryClass());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> router.route("x", "poetry"));
        assertTrue(e.getMessage().contains("poetry") && e.getMessage().contains("sql"));
    }

    @Test
    void withoutAGeneralDraftUnclaimedQueriesGoTargetOnly() {
        Router router = new Router(List.of(RoutingRule.of("sql", List.of("select"), List.of())), null, null, 0);
        Router.Route r = router.route("tell me a story", null);
        assertNull(r.draft());
        assertEquals(Router.Reason.NONE, r.reason());
        assertThrows(IllegalArgumentException.class, () -> RoutingRule.of("x", List.of(), List.of("(unclosed")));
    }

    @Test
    void theLearnedRouterFollowsMeasuredAcceptance() {
        // two drafts with no rules; "alpha" serves questions about trains well, "beta" questions about boats
        LearnedRouter learned = new LearnedRouter(0.5, 0.1, 7);
        Router router = new Router(List.of(RoutingRule.of("alpha", List.of("zzz"), List.of()),
                RoutingRule.of("beta", List.of("yyy"), List.of())), null, learned, 50);
        String[] trains = {"when does the train to Lyon leave", "which platform for the train", "train tickets to Rome"};
        String[] boats = {"when does the boat to Corsica sail", "which dock for the boat", "boat tickets to Capri"};
        java.util.SplittableRandom random = new java.util.SplittableRandom(1);
        for (int i = 0; i < 400; i++) {
            boolean train = random.nextBoolean();
            String q = (train ? trains : boats)[random.nextInt(3)] + " " + i;
            Router.Route r = router.route(q, null);
            String served = r.draft() == null ? (random.nextBoolean() ? "alpha" : "beta") : r.draft();
            boolean good = served.equals(train ? "alpha" : "beta");
            router.observe(q, served, good ? 0.8 : 0.2);
        }
        int right = 0;
        for (int i = 0; i < 100; i++) {
            boolean train = i % 2 == 0;
            Router.Route r = router.route((train ? trains : boats)[i % 3] + " later " + i, null);
            assertEquals(Router.Reason.LEARNED, r.reason());
            if (r.draft().equals(train ? "alpha" : "beta")) {
                right++;
            }
        }
        assertTrue(right >= 85, "routed to the better draft " + right + " of 100 (10% exploration)");
        assertTrue(learned.predict("the train to Lyon", "alpha") > learned.predict("the train to Lyon", "beta"));
    }
}
