package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.distillation.DraftTrainer;
import dev.osd.distillation.TrainerSettings;
import dev.osd.drafts.DraftVersion;
import dev.osd.drafts.LiveDraft;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import dev.osd.routing.Router;
import dev.osd.routing.RoutingRule;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The Java API over the actors: routing, streaming, online training beside serving, bad requests. */
class ServingSystemTest {

    static LiveDraft live(String name) {
        return new LiveDraft(new DraftVersion(name, 0, -1,
                LlamaModel.of(ServingTest.draft.weights().copy(ServingTest.manager))));
    }

    @Test
    void requestsAreRoutedServedStreamedAndTeachTheirDraft() throws Exception {
        ServingTest.models();
        ExecutorService training = DraftTrainer.newTrainingExecutor();
        LiveDraft a = live("a");
        LiveDraft b = live("b");
        TrainerSettings settings = TrainerSettings.defaults(64).withGuard(0, 0);
        DraftTrainer trainerA = new DraftTrainer(a, settings, training, null, ServingTest.manager);
        DraftTrainer trainerB = new DraftTrainer(b, settings, training, null, ServingTest.manager);
        Router router = new Router(List.of(RoutingRule.of("a", List.of("alpha"), List.of()),
                RoutingRule.of("b", List.of("beta"), List.of())), "b", null, 0);
        try (ServingSystem system = ServingSystem.start("serving-api", ServingTest.target, null,
                List.of(new ServingSystem.Draft("a", a, trainerA), new ServingSystem.Draft("b", b, trainerB)), router,
                ServingSystem.Settings.defaults(), ServingTest.manager)) {
            List<java.util.concurrent.CompletableFuture<RequestActor.Finished>> results = new ArrayList<>();
            AtomicInteger streamed = new AtomicInteger();
            for (int i = 0; i < 16; i++) {
                GenerationRequest r = ServingTest.greedy(i, 4);
                String query = (i % 2 == 0 ? "alpha " : "beta ") + i;
                results.add(system.submit(ServingSystem.Submission.of(r, query), t -> streamed.addAndGet(t.length))
                        .toCompletableFuture());
            }
            int total = 0;
            for (int i = 0; i < 16; i++) {
                RequestActor.Finished f = results.get(i).get(60, TimeUnit.SECONDS);
                assertNull(f.problem());
                assertEquals(i % 2 == 0 ? "a" : "b", f.draft(), "routed by rule");
                assertArrayEquals(ServingTest.plain(ServingTest.greedy(i, 0)), f.result().tokens(), "request " + i);
                total += f.result().tokens().length;
            }
            final int expected = total;
            // the client's stream saw every token (the last batch may still be in flight when the future completes)
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (streamed.get() < expected && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(expected, streamed.get());
            // rounds reach the trainers through their actors, and updates run on the training thread: both
            // happen after the responses
            deadline = System.nanoTime() + 20_000_000_000L;
            while ((a.versionNumber() == 0 || trainerB.stats().records() == 0) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertTrue(trainerA.stats().records() > 0 && trainerB.stats().records() > 0, "both trainers were fed");
            assertTrue(a.versionNumber() > 0, "draft a learned: version " + a.versionNumber());

            // the target and every draft replica can be found through the Receptionist (how a cluster finds them)
            for (org.apache.pekko.actor.typed.receptionist.ServiceKey<?> key : List.of(Gateway.TARGET_KEY,
                    Gateway.draftKey("a"), Gateway.draftKey("b"))) {
                org.apache.pekko.actor.typed.receptionist.Receptionist.Listing listing =
                        org.apache.pekko.actor.typed.javadsl.AskPattern.<org.apache.pekko.actor.typed.receptionist
                                .Receptionist.Command, org.apache.pekko.actor.typed.receptionist.Receptionist.Listing>ask(
                                system.actorSystem().receptionist(),
                                r -> org.apache.pekko.actor.typed.receptionist.Receptionist.find(key, r),
                                java.time.Duration.ofSeconds(3), system.actorSystem().scheduler())
                                .toCompletableFuture().get(5, TimeUnit.SECONDS);
                assertEquals(1, listing.getAllServiceInstances(key).size(), key.id());
            }

            // target-only on request, and an unknown draft refused
            RequestActor.Finished plain = system.submit(new ServingSystem.Submission(ServingTest.greedy(3, 4), "alpha",
                    null, true, false), null).toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertNull(plain.draft());
            assertEquals(0, plain.result().stats().steps());
            CompletionException e = assertThrows(CompletionException.class, () -> system.submit(
                    new ServingSystem.Submission(ServingTest.greedy(3, 4), "x", "gamma", true, true), null)
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
