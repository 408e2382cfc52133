package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.drafts.DraftVersion;
import dev.osd.drafts.LiveDraft;
import dev.osd.engine.LlamaModel;
import dev.osd.routing.Router;
import dev.osd.routing.RoutingRule;
import dev.osd.routing.SpawnPolicy;
import dev.osd.routing.TrafficClusters;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The whole chain of a spawned draft on real actors: a request's acceptance reaches the router, whose spawn
 * policy decides that a traffic cluster gets a draft of its own; the lifecycle makes it (off its thread), serves
 * it, and the cluster's next request goes there, output unchanged; once the cluster goes quiet the draft is
 * retired and its requests go back to the general draft.
 */
class SpawnedDraftTest {

    static ServingModels models;

    @BeforeAll
    static void open() {
        models = new ServingModels();
    }

    @AfterAll
    static void close() {
        models.close();
    }

    private static String flight(int i) {
        return "Flight status request. Airline Skyway flight " + (100 + i) + " from Lisbon to Oslo: gate and delay?";
    }

    @Test
    void aPoorlyServedClusterGetsADraftThatServesItsRequestsUntilItGoesQuiet() throws Exception {
        TrafficClusters clusters = new TrafficClusters(TrafficClusters.Settings.defaults());
        Router router = new Router(List.of(RoutingRule.of("sql", List.of("select"), List.of())), "general", null, 0,
                clusters, new SpawnPolicy(new SpawnPolicy.Settings(true, 8, 5, 0.15, 4)));
        // what the router saw before: the sql draft serves its cluster well, the general draft the flights poorly
        for (int i = 0; i < 10; i++) {
            String sql = "select name, total from orders where id = " + i;
            router.observe(sql, router.route(sql, null).draft(), 0.9);
            String flight = flight(i);
            router.observe(flight, router.route(flight, null).draft(), 0.2);
        }
        List<String> made = new CopyOnWriteArrayList<>();
        ServingSystem.DraftFactory factory = new ServingSystem.DraftFactory() {
            @Override
            public ServingSystem.Draft create(String name) {
                return create(name, models.draft);
            }

            @Override
            public ServingSystem.Draft create(String name, LlamaModel start) {
                made.add(name);
                return new ServingSystem.Draft(name, new LiveDraft(new DraftVersion(name, 0, -1,
                        LlamaModel.of(start.weights().copy(models.manager)))), null);
            }

            @Override
            public LlamaModel base() {
                return models.draft;
            }
        };
        LiveDraft sql = models.live("sql");
        LiveDraft general = models.live("general");
        try (ServingSystem system = ServingSystem.builder().setName("spawned-draft").setRouter(router)
                .setManager(models.manager).optTarget(models.target)
                .optDrafts(List.of(new ServingSystem.Draft("sql", sql, null),
                        new ServingSystem.Draft("general", general, null)))
                .optSettings(ServingSystem.Settings.defaults()).optDraftFactory(factory).start()) {
            TestProbe<Void> probe = TestProbe.create(system.actorSystem());
            // the replicas register once warmed up; a request before that would go target-only
            probe.awaitAssert(Duration.ofSeconds(30), () -> {
                assertEquals(Map.of("sql", 1, "general", 1), system.readiness().draftReplicas());
                return null;
            });
            RequestActor.Finished first = system.submit(ServingSystem.Submission.of(ServingModels.greedy(1, 3),
                    flight(50)), null).toCompletableFuture().get(60, TimeUnit.SECONDS);
            assertEquals("general", first.draft());

            String name = probe.awaitAssert(Duration.ofSeconds(30), () -> {
                Map<String, DraftLifecycle.Spawned> spawned = system.spawnedDrafts();
                assertEquals(1, spawned.size(), "spawned: " + spawned);
                String n = spawned.keySet().iterator().next();
                assertTrue(system.readiness().draftReplicas().getOrDefault(n, 0) > 0, "its replica is listed");
                return n;
            });
            assertTrue(name.startsWith(SpawnPolicy.SPAWNED_PREFIX), name);
            assertEquals(List.of(name), made, "made once, by the factory");
            DraftLifecycle.Spawned why = system.spawnedDrafts().get(name);
            assertEquals(clusters.closest(flight(7)).orElseThrow(), why.cluster());
            assertEquals("base", why.startedFrom(), "the general draft has no records to compare starts on");
            assertEquals(0, why.records());
            assertTrue(why.reason().contains("0.90"), why.reason());

            // the cluster's next request is served by its own draft, with the target's output
            RequestActor.Finished second = system.submit(ServingSystem.Submission.of(ServingModels.greedy(2, 3),
                    flight(51)), null).toCompletableFuture().get(60, TimeUnit.SECONDS);
            assertEquals(name, second.draft());
            assertNull(second.problem());
            assertArrayEquals(models.plain(ServingModels.greedy(2, 0)), second.result().tokens());

            // four requests elsewhere and the cluster counts as quiet: the draft is retired
            for (int i = 0; i < 5; i++) {
                system.submit(ServingSystem.Submission.of(ServingModels.greedy(3 + i, 3), "select x from t" + i), null)
                        .toCompletableFuture().get(60, TimeUnit.SECONDS);
            }
            probe.awaitAssert(Duration.ofSeconds(30), () -> {
                assertFalse(system.draftNames().contains(name), "retired: " + system.draftNames());
                assertTrue(system.spawnedDrafts().isEmpty());
                return null;
            });
            RequestActor.Finished after = system.submit(ServingSystem.Submission.of(ServingModels.greedy(9, 3),
                    flight(52)), null).toCompletableFuture().get(60, TimeUnit.SECONDS);
            assertEquals("general", after.draft());
        } finally {
            sql.close();
            general.close();
        }
    }
}
