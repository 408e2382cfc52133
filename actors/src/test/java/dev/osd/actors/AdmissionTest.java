package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.engine.GenerationRequest;
import dev.osd.engine.SamplingParams;
import dev.osd.routing.Router;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 15 #1, #2, #4, #7 at the gateway: a request's generations are admitted whole or refused whole before
 * any starts; a cancelled generation is a normal, counted end; a drain takes nothing new, lets what runs finish,
 * and an abort ends it with an answer. Two slots, target-only.
 */
class AdmissionTest {

    static ServingModels models;
    static ServingSystem system;

    @BeforeAll
    static void start() {
        models = new ServingModels();
        system = start("admission");
    }

    static ServingSystem start(String name) {
        return ServingSystem.builder().setName(name).setRouter(new Router(List.of(), null, null, 0))
                .setManager(models.manager).optTarget(models.target)
                .optSettings(new ServingSystem.Settings(2, 16, Duration.ofSeconds(2), 0.1, 1, 8)).start();
    }

    @AfterAll
    static void stop() {
        system.close();
        models.close();
    }

    static ServingSystem.Submission generation(int i, int maxTokens) {
        return new ServingSystem.Submission(new GenerationRequest(ServingModels.prompt(i), maxTokens,
                SamplingParams.GREEDY, null, true, 0), "q", null, true, false);
    }

    static List<ServingSystem.Submitted> send(int n, int maxTokens) {
        List<ServingSystem.Submission> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            all.add(generation(i, maxTokens));
        }
        return system.sendAll(all, Collections.nCopies(n, null));
    }

    static Problem refusal(ServingSystem.Submitted s) {
        try {
            RequestActor.Finished f = s.result().toCompletableFuture().get(30, TimeUnit.SECONDS);
            throw new AssertionError("served, not refused: " + f);
        } catch (ExecutionException e) {
            return assertInstanceOf(ProblemException.class, e.getCause()).problem();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static RequestActor.Finished result(ServingSystem.Submitted s) throws Exception {
        return s.result().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }

    @Test
    void aRequestIsAdmittedWholeOrRefusedWholeBeforeAnyWorkStarts() throws Exception {
        double before = requests(null);
        // more generations than there are slots: never admissible, refused as the client's fault
        for (ServingSystem.Submitted s : send(3, 8)) {
            assertInstanceOf(Problem.InvalidInput.class, refusal(s));
        }
        List<ServingSystem.Submitted> running = send(2, 100);
        // the gateway counted both slots as taken before the next request came: refused whole, at once
        List<ServingSystem.Submitted> late = send(1, 8);
        assertInstanceOf(Problem.Overloaded.class, refusal(late.get(0)));
        for (ServingSystem.Submitted s : running) {
            RequestActor.Finished f = result(s);
            assertNull(f.problem(), String.valueOf(f.problem()));
            assertEquals(100, f.result().tokens().length);
        }
        // refused generations never ran: only the two admitted ones finished
        assertEquals(before + 2, requests(null));
        // their slots are free the moment their callers heard
        for (ServingSystem.Submitted s : send(2, 4)) {
            assertNull(result(s).problem());
        }
    }

    @Test
    void aCancelledGenerationIsANormalCountedEnd() throws Exception {
        double before = requests("cancelled");
        CountDownLatch firstTokens = new CountDownLatch(1);
        Consumer<RequestActor.Tokens> onTokens = t -> firstTokens.countDown();
        ServingSystem.Submitted s = system.sendAll(List.of(generation(7, 120)), List.of(onTokens)).get(0);
        assertTrue(firstTokens.await(30, TimeUnit.SECONDS));
        system.cancel(s.id());
        RequestActor.Finished f = result(s);
        assertInstanceOf(Problem.Cancelled.class, f.problem());
        assertTrue(f.result().tokens().length < 120);
        assertEquals(before + 1, requests("cancelled"), "counted under outcome=cancelled");
    }

    /** osd_requests_total summed over labels, for one outcome (null: all). */
    static double requests(String outcome) {
        double n = 0;
        for (MetricSnapshot m : system.metrics().registry().scrape()) {
            if (m instanceof CounterSnapshot c && c.getMetadata().getName().equals("osd_requests")) {
                for (CounterSnapshot.CounterDataPointSnapshot d : c.getDataPoints()) {
                    if (outcome == null || outcome.equals(d.getLabels().get("outcome"))) {
                        n += d.getValue();
                    }
                }
            }
        }
        return n;
    }

    @Test
    void aDrainTakesNothingNewFinishesWhatRunsAndAnAbortAnswersTheRest() throws Exception {
        try (ServingSystem own = start("drain")) {
            CountDownLatch started = new CountDownLatch(1);
            ServingSystem.Submitted finishing = own.sendAll(List.of(generation(1, 60)),
                    List.of(t -> started.countDown())).get(0);
            assertTrue(started.await(30, TimeUnit.SECONDS));
            CompletableFuture<Void> drained = own.drain().toCompletableFuture();
            assertTrue(own.draining());
            List<ServingSystem.Submitted> refused = own.sendAll(List.of(generation(2, 4)),
                    Collections.singletonList(null));
            Problem p = refusal(refused.get(0));
            assertInstanceOf(Problem.Unavailable.class, p);
            drained.get(60, TimeUnit.SECONDS);
            // drained means answered: the running request finished whole before it
            assertTrue(finishing.result().toCompletableFuture().isDone());
            assertNull(result(finishing).problem());
            assertEquals(60, result(finishing).result().tokens().length);
        }
        try (ServingSystem own = start("abort")) {
            CountDownLatch started = new CountDownLatch(1);
            ServingSystem.Submitted cut = own.sendAll(List.of(generation(3, 120)),
                    List.of(t -> started.countDown())).get(0);
            assertTrue(started.await(30, TimeUnit.SECONDS));
            CompletableFuture<Void> drained = own.drain().toCompletableFuture();
            own.abortAll(new Problem.Unavailable("shutting down"));
            RequestActor.Finished f = result(cut);
            assertInstanceOf(Problem.Unavailable.class, f.problem());
            drained.get(30, TimeUnit.SECONDS);
        }
    }
}
