package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.distillation.DraftTrainer;
import dev.osd.distillation.TrainerSettings;
import dev.osd.drafts.LiveDraft;
import dev.osd.engine.GenerationRequest;
import dev.osd.routing.Router;
import dev.osd.routing.RoutingRule;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Java API over the actors: routing, streaming, online training beside serving, bad requests. */
class ServingSystemTest {

    static ServingModels models;

    @BeforeAll
    static void open() {
        models = new ServingModels();
    }

    @AfterAll
    static void close() {
        models.close();
    }

    @Test
    void requestsAreRoutedServedStreamedAndTeachTheirDraft() throws Exception {
        ExecutorService training = DraftTrainer.newTrainingExecutor();
        LiveDraft a = models.live("a");
        LiveDraft b = models.live("b");
        TrainerSettings settings = TrainerSettings.builder(64).optGuardWindow(0).optGuardTolerance(0)
                .build();
        DraftTrainer trainerA = new DraftTrainer(a, settings, training, null, models.manager);
        DraftTrainer trainerB = new DraftTrainer(b, settings, training, null, models.manager);
        Router router = new Router(List.of(RoutingRule.of("a", List.of("alpha"), List.of()),
                RoutingRule.of("b", List.of("beta"), List.of())), "b", null, 0);
        try (ServingSystem system = ServingSystem.builder().setName("serving-api").setRouter(router)
                .setManager(models.manager).optTarget(models.target)
                .optDrafts(List.of(new ServingSystem.Draft("a", a, trainerA), new ServingSystem.Draft("b", b, trainerB)))
                .optSettings(ServingSystem.Settings.defaults()).start()) {
            TestProbe<Void> probe = TestProbe.create(system.actorSystem());
            // the replicas register once warmed up; a request before that would go target-only
            probe.awaitAssert(Duration.ofSeconds(30), () -> {
                assertEquals(Map.of("a", 1, "b", 1), system.readiness().draftReplicas());
                return null;
            });
            List<CompletableFuture<RequestActor.Finished>> results = new ArrayList<>();
            // a permit per streamed token
            Semaphore streamed = new Semaphore(0);
            for (int i = 0; i < 16; i++) {
                GenerationRequest r = ServingModels.greedy(i, 4);
                String query = (i % 2 == 0 ? "alpha " : "beta ") + i;
                results.add(system.submit(ServingSystem.Submission.of(r, query), t -> streamed.release(t.length))
                        .toCompletableFuture());
            }
            int total = 0;
            for (int i = 0; i < 16; i++) {
                RequestActor.Finished f = results.get(i).get(60, TimeUnit.SECONDS);
                assertNull(f.problem());
                assertEquals(i % 2 == 0 ? "a" : "b", f.draft(), "routed by rule");
                assertArrayEquals(models.plain(ServingModels.greedy(i, 0)), f.result().tokens(), "request " + i);
                total += f.result().tokens().length;
            }
            // the client's stream saw every token (the last batch may still be in flight when the future completes)
            assertTrue(streamed.tryAcquire(total, 5, TimeUnit.SECONDS), "streamed " + streamed.availablePermits()
                    + " of " + total + " tokens");
            assertEquals(0, streamed.availablePermits(), "no token streamed twice");
            // rounds reach the trainers through their actors, and updates run on the training thread: both
            // happen after the responses
            probe.awaitAssert(Duration.ofSeconds(20), () -> {
                assertTrue(trainerA.stats().records() > 0 && trainerB.stats().records() > 0, "both trainers were fed");
                assertTrue(a.version() > 0, "draft a learned: version " + a.version());
                return null;
            });

            // the target and every draft replica can be found through the Receptionist (how a cluster finds them)
            for (ServiceKey<?> key : List.of(ServiceDirectory.TARGET_KEY, ServiceDirectory.draftKey("a"),
                    ServiceDirectory.draftKey("b"))) {
                Receptionist.Listing listing = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(
                        system.actorSystem().receptionist(), r -> Receptionist.find(key, r), Duration.ofSeconds(3),
                        system.actorSystem().scheduler()).toCompletableFuture().get(5, TimeUnit.SECONDS);
                assertEquals(1, listing.getAllServiceInstances(key).size(), key.id());
            }

            // target-only on request, and an unknown draft refused
            RequestActor.Finished plain = system.submit(new ServingSystem.Submission(ServingModels.greedy(3, 4),
                    "alpha", null, true, false), null).toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertNull(plain.draft());
            assertEquals(0, plain.result().stats().rounds());
            CompletionException e = assertThrows(CompletionException.class, () -> system.submit(
                    new ServingSystem.Submission(ServingModels.greedy(3, 4), "x", "gamma", true, true), null)
                    .toCompletableFuture().join());
            assertTrue(e.getCause().getMessage().contains("unknown draft 'gamma'"));
        } finally {
            trainerA.close();
            trainerB.close();
            training.shutdown();
            a.close();
            b.close();
        }
    }
}
