package dev.osd.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.workload.Example;
import dev.osd.workload.QueryClass;
import dev.osd.workload.Workload;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SpawnPolicyTest {

    private static final SpawnPolicy.Settings SETTINGS = new SpawnPolicy.Settings(true, 8, 30, 0.15, 500);

    /** A router over the embedded rules that clusters and spawns, with the embedded drafts served. */
    private static Router router(SpawnPolicy.Settings settings) {
        Router router = new Router(Router.embeddedRules(), "general", null, 0,
                new TrafficClusters(TrafficClusters.Settings.defaults()), new SpawnPolicy(settings));
        for (QueryClass c : Workload.CLASSES) {
            router.addDraft(c.name());
        }
        return router;
    }

    /** Serves one query: routes it and observes the acceptance its draft would get. */
    private static Router.Route serve(Router router, String query, double specialised, double general) {
        Router.Route r = router.route(query, null);
        router.observe(query, r.draft(), r.draft().equals("general") ? general : specialised);
        return r;
    }

    private static void classTraffic(Router router, int rounds, double acceptance) {
        for (int i = 0; i < rounds; i++) {
            for (QueryClass c : Workload.CLASSES) {
                Example e = Workload.example(c, Workload.Split.TRAIN, i, 9);
                serve(router, e.prompt(), acceptance, 0.3);
            }
        }
    }

    @Test
    void aPoorlyServedClusterGetsItsOwnDraftAndItsRequestsGoThere() {
        Router router = router(SETTINGS);
        classTraffic(router, 40, 0.85);
        assertTrue(router.spawnDecisions().isEmpty(), "the classes are served well: nothing to spawn");
        SplittableRandom r = new SplittableRandom(3);
        List<SpawnPolicy.Decision> decisions = List.of();
        int served = 0;
        while (decisions.isEmpty() && served < 200) {
            assertEquals("general", serve(router, TrafficClustersTest.flightQuery(r), 0.85, 0.35).draft());
            served++;
            decisions = router.spawnDecisions();
        }
        assertEquals(1, decisions.size(), "decided after " + served + " flight queries");
        assertTrue(served <= 40, "decided within a few more requests than the minimum: " + served);
        SpawnPolicy.Spawn spawn = assertInstanceOf(SpawnPolicy.Spawn.class, decisions.get(0));
        assertTrue(spawn.draft().startsWith(SpawnPolicy.SPAWNED_PREFIX));
        assertEquals(0.35, spawn.clusterAcceptance(), 1e-9);
        assertEquals(0.85, spawn.specialisedAcceptance(), 1e-9);
        assertTrue(spawn.reason().contains("0.35") && spawn.reason().contains("0.85"), spawn.reason());
        assertTrue(router.spawnDecisions().isEmpty(), "a cluster is decided once");

        // until the draft is served its cluster stays with the general draft, then it routes to its own
        assertEquals("general", router.route(TrafficClustersTest.flightQuery(r), null).draft());
        router.addDraft(spawn.draft());
        Router.Route route = router.route(TrafficClustersTest.flightQuery(r), null);
        assertEquals(spawn.draft(), route.draft());
        assertEquals(Router.Reason.CLUSTER, route.reason());
        // the classes the rules claim are not affected
        Example sql = Workload.example(Workload.CLASSES.get(0), Workload.Split.TRAIN, 7, 9);
        assertEquals(Workload.CLASSES.get(0).name(), router.route(sql.prompt(), null).draft());
    }

    @Test
    void noSpawnWhenTheGeneralDraftServesTheClusterAsWellAsTheSpecialisedOnes() {
        Router router = router(SETTINGS);
        classTraffic(router, 40, 0.6);
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 100; i++) {
            serve(router, TrafficClustersTest.flightQuery(r), 0.6, 0.5);
            assertTrue(router.spawnDecisions().isEmpty(), "0.5 is within the margin of 0.6");
        }
    }

    @Test
    void noSpawnBeyondTheMostDrafts() {
        Router router = router(new SpawnPolicy.Settings(true, 5, 30, 0.15, 500));
        classTraffic(router, 40, 0.85);
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 100; i++) {
            serve(router, TrafficClustersTest.flightQuery(r), 0.85, 0.2);
            assertTrue(router.spawnDecisions().isEmpty(), "five drafts are the most");
        }
    }

    @Test
    void aSpawnedDraftWhoseClusterWentQuietIsRetired() {
        Router router = router(new SpawnPolicy.Settings(true, 8, 30, 0.15, 200));
        classTraffic(router, 40, 0.85);
        SplittableRandom r = new SplittableRandom(3);
        SpawnPolicy.Spawn spawn = null;
        for (int i = 0; i < 200 && spawn == null; i++) {
            serve(router, TrafficClustersTest.flightQuery(r), 0.85, 0.3);
            spawn = router.spawnDecisions().stream().filter(SpawnPolicy.Spawn.class::isInstance)
                    .map(SpawnPolicy.Spawn.class::cast).findFirst().orElse(null);
        }
        assertTrue(spawn != null);
        router.addDraft(spawn.draft());
        classTraffic(router, 50, 0.85); // 250 requests elsewhere
        List<SpawnPolicy.Decision> decisions = router.spawnDecisions();
        SpawnPolicy.Retire retire = assertInstanceOf(SpawnPolicy.Retire.class, decisions.get(0));
        assertEquals(spawn.draft(), retire.draft());
        router.removeDraft(spawn.draft());
        assertEquals(Set.of(), Set.copyOf(router.spawnDecisions()));
        assertEquals("general", router.route(TrafficClustersTest.flightQuery(r), null).draft());
    }
}
