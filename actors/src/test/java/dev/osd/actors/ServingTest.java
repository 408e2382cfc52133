package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.engine.DraftSource;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Requests through the actors: target actor, draft actor, request actors, against plain decoding. */
class ServingTest {

    static final ActorTestKit KIT = ActorTestKit.create();
    static final DispatcherSelector TARGETS = DispatcherSelector.fromConfig("osd.target-dispatcher");
    static final DispatcherSelector DRAFTS = DispatcherSelector.fromConfig("osd.draft-dispatcher");
    static final AtomicInteger NAMES = new AtomicInteger();
    static ServingModels models;
    static LlamaModel target;
    static LlamaModel draft;

    @BeforeAll
    static void open() {
        models = new ServingModels();
        target = models.target;
        draft = models.draft;
    }

    @AfterAll
    static void close() {
        // the actors first: they serve the models
        KIT.shutdownTestKit();
        models.close();
    }

    static int[] prompt(int i) {
        return ServingModels.prompt(i);
    }

    static GenerationRequest greedy(int i, int k) {
        return ServingModels.greedy(i, k);
    }

    static int[] plain(GenerationRequest r) {
        return models.plain(r);
    }

    record Serving(ActorRef<TargetActor.Command> target, ActorRef<DraftActor.Command> draft, KvCachePool draftPool) {
    }

    static Serving start(int slots) {
        int n = NAMES.incrementAndGet();
        KvCachePool draftPool = draft.newCachePool(slots);
        return new Serving(KIT.spawn(TargetActor.create(target, slots, 16), "target-" + n, TARGETS),
                KIT.spawn(DraftActor.create("d", DraftSource.fixed(draft), draftPool), "draft-" + n, DRAFTS),
                draftPool);
    }

    static ActorRef<RequestActor.Command> request(Serving s, int i, GenerationRequest r, ActorRef<TrainerActor.Command> trainer,
            ActorRef<RequestActor.Event> client) {
        return KIT.spawn(RequestActor.create(RequestActor.Setup.targetOnly("req-" + NAMES.incrementAndGet(), r,
                target.config().eosTokenId(), 128, s.target(), Duration.ofSeconds(2), client)
                .withDraft(s.draft(), "d", 128, trainer, null)));
    }

    /** Collects each request's final event. */
    static Map<String, RequestActor.Finished> finished(TestProbe<RequestActor.Event> probe, int n) {
        Map<String, RequestActor.Finished> out = new HashMap<>();
        while (out.size() < n) {
            RequestActor.Event e = probe.receiveMessage(Duration.ofSeconds(60));
            if (e instanceof RequestActor.Finished f) {
                out.put(f.requestId(), f);
            }
        }
        return out;
    }

    @Test
    void thirtyTwoConcurrentSpeculativeRequestsAllCompleteWithTargetOnlyTokens() {
        Serving s = start(32);
        Map<Integer, TestProbe<RequestActor.Event>> probes = new HashMap<>();
        for (int i = 0; i < 32; i++) {
            TestProbe<RequestActor.Event> probe = KIT.createTestProbe();
            probes.put(i, probe);
            request(s, i, greedy(i, 3), null, probe.getRef());
        }
        for (int i = 0; i < 32; i++) {
            RequestActor.Finished f = finished(probes.get(i), 1).values().iterator().next();
            assertNull(f.problem(), String.valueOf(f.problem()));
            assertArrayEquals(plain(greedy(i, 0)), f.result().tokens(), "request " + i);
            assertTrue(f.result().stats().rounds() > 0, "it speculated");
        }
        TestProbe<TargetActor.Stats> stats = KIT.createTestProbe();
        stats.awaitAssert(() -> {
            s.target().tell(new TargetActor.GetStats(stats.getRef()));
            TargetActor.Stats st = stats.receiveMessage();
            assertEquals(0, st.openCaches(), "all caches released");
            assertTrue(st.largestBatch() > 1, "verification was batched: largest batch " + st.largestBatch());
            return null;
        });
    }

    @Test
    void tokensStreamAsTheyAreAcceptedAndAddUpToTheResult() {
        Serving s = start(2);
        TestProbe<RequestActor.Event> probe = KIT.createTestProbe();
        request(s, 5, greedy(5, 4), null, probe.getRef());
        int[] streamed = new int[0];
        while (true) {
            RequestActor.Event e = probe.receiveMessage(Duration.ofSeconds(30));
            if (e instanceof RequestActor.Tokens t) {
                int[] grown = java.util.Arrays.copyOf(streamed, streamed.length + t.tokens().length);
                System.arraycopy(t.tokens(), 0, grown, streamed.length, t.tokens().length);
                streamed = grown;
            } else {
                assertArrayEquals(((RequestActor.Finished) e).result().tokens(), streamed);
                break;
            }
        }
    }

    @Test
    void aDraftActorStoppedMidRequestLeavesTheRequestTargetOnlyWithTheSameText() {
        Serving s = start(4);
        TestProbe<RequestActor.Event> probe = KIT.createTestProbe();
        GenerationRequest r = new GenerationRequest(prompt(7), 60, SamplingParams.GREEDY, null, true, 3);
        request(s, 7, r, null, probe.getRef());
        // let a few tokens through, then the draft replica dies
        probe.receiveMessage(Duration.ofSeconds(30));
        KIT.stop(s.draft());
        RequestActor.Finished f = finished(probe, 1).values().iterator().next();
        assertNull(f.problem());
        assertArrayEquals(plain(new GenerationRequest(prompt(7), 60, SamplingParams.GREEDY, null, true, 0)),
                f.result().tokens());
    }

    @Test
    void aFailingTrainerNeverAffectsTheResponse() {
        Serving s = start(2);
        TestProbe<RequestActor.Event> probe = KIT.createTestProbe();
        AtomicInteger offered = new AtomicInteger();
        // a trainer that fails on the first record the target sends it, and is gone from then on
        ActorRef<TrainerActor.Command> broken = KIT.spawn(Behaviors.receive(TrainerActor.Command.class)
                .onMessage(TrainerActor.Learn.class, l -> {
                    offered.incrementAndGet();
                    throw new IllegalStateException("trainer is broken");
                })
                .build());
        request(s, 9, greedy(9, 3), broken, probe.getRef());
        RequestActor.Finished f = finished(probe, 1).values().iterator().next();
        assertNull(f.problem());
        assertArrayEquals(plain(greedy(9, 0)), f.result().tokens());
        assertTrue(offered.get() > 0, "the target sent the trainer records");
    }

    /**
     * Each proposal request carries only the tokens the draft was not told; a replica that lost the sequence
     * (here: its cache released under the request's feet, as a restart would) answers with where to send from,
     * and the request resends from there and goes on speculating, with the target-only tokens.
     */
    @Test
    void proposalsCarryOnlyWhatTheDraftLacksAndAReplicaThatLostTheSequenceIsResynced() {
        Serving s = start(2);
        List<Integer> starts = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Integer> sent = new java.util.concurrent.CopyOnWriteArrayList<>();
        int[] asked = {0};
        ActorRef<DraftActor.Command> forgetful = KIT.spawn(Behaviors.receive(DraftActor.Command.class)
                .onMessage(DraftActor.Propose.class, p -> {
                    starts.add(p.start());
                    sent.add(p.tokens().length);
                    if (++asked[0] == 4) {
                        s.draft().tell(new DraftActor.Release(p.requestId()));
                    }
                    s.draft().tell(p);
                    return Behaviors.same();
                })
                .onMessage(DraftActor.Command.class, c -> {
                    s.draft().tell(c);
                    return Behaviors.same();
                })
                .build());
        TestProbe<RequestActor.Event> probe = KIT.createTestProbe();
        GenerationRequest r = new GenerationRequest(prompt(13), 40, SamplingParams.GREEDY, null, true, 3);
        KIT.spawn(RequestActor.create(RequestActor.Setup.targetOnly("resync", r, target.config().eosTokenId(), 128,
                s.target(), Duration.ofSeconds(5), probe.getRef()).withDraft(forgetful, "d", 128, null, null)));
        RequestActor.Finished f = finished(probe, 1).values().iterator().next();
        assertNull(f.problem());
        assertArrayEquals(plain(new GenerationRequest(prompt(13), 40, SamplingParams.GREEDY, null, true, 0)),
                f.result().tokens());
        assertEquals(0, f.result().stats().draftFailures(), "the draft was never dropped");
        assertEquals(0, starts.get(0), "the first proposal sends the prompt");
        assertEquals(r.prompt().length, sent.get(0));
        assertTrue(starts.get(1) > 0 && sent.get(1) <= 4, "then only the round's tokens: " + sent);
        // the fourth ask found the sequence gone and the fifth sent it again from the start
        assertEquals(0, starts.get(4), String.valueOf(starts));
        assertTrue(starts.size() > 5 && starts.get(5) > 0, "speculation went on: " + starts);
    }

    @Test
    void cancellationEndsTheRequestAndFreesItsCaches() {
        Serving s = start(2);
        TestProbe<RequestActor.Event> probe = KIT.createTestProbe();
        ActorRef<RequestActor.Command> req = request(s, 11, new GenerationRequest(prompt(11), 100,
                SamplingParams.GREEDY, null, true, 2), null, probe.getRef());
        probe.receiveMessage(Duration.ofSeconds(30));
        req.tell(RequestActor.Cancel.INSTANCE);
        RequestActor.Finished f = finished(probe, 1).values().iterator().next();
        assertTrue(f.result().tokens().length < 100);
        TestProbe<TargetActor.Stats> stats = KIT.createTestProbe();
        stats.awaitAssert(() -> {
            s.target().tell(new TargetActor.GetStats(stats.getRef()));
            assertEquals(0, stats.receiveMessage().openCaches());
            // the draft actor frees its cache on the request's Release, asynchronously
            assertEquals(2, s.draftPool().freeSlots());
            return null;
        });
    }

    @Test
    void aSaturatedTargetRefusesNewRequestsWithAClearSignal() {
        Serving s = start(1);
        TestProbe<RequestActor.Event> first = KIT.createTestProbe();
        TestProbe<RequestActor.Event> second = KIT.createTestProbe();
        request(s, 1, new GenerationRequest(prompt(1), 100, SamplingParams.GREEDY, null, true, 2), null, first.getRef());
        first.receiveMessage(Duration.ofSeconds(30));
        request(s, 2, greedy(2, 2), null, second.getRef());
        RequestActor.Finished f = finished(second, 1).values().iterator().next();
        assertTrue(f.problem() instanceof Problem.Overloaded, String.valueOf(f.problem()));
        finished(first, 1);
    }

    @Test
    void adaptiveProposalLengthFollowsTheDraftAndKeepsTheOutput() {
        Serving s = start(4);
        AdaptiveProposalLength adaptive = new AdaptiveProposalLength(1, 6, 0.9, 0.02, 0.1);
        assertEquals(6, adaptive.next());
        for (int i = 0; i < 4; i++) {
            TestProbe<RequestActor.Event> probe = KIT.createTestProbe();
            GenerationRequest r = greedy(20 + i, 6);
            KIT.spawn(RequestActor.create(RequestActor.Setup.targetOnly("adaptive-" + i, r,
                    target.config().eosTokenId(), 128, s.target(), Duration.ofSeconds(2), probe.getRef())
                    .withDraft(s.draft(), "d", 128, null, adaptive)));
            RequestActor.Finished f = finished(probe, 1).values().iterator().next();
            assertArrayEquals(plain(greedy(20 + i, 0)), f.result().tokens());
        }
        // an unrelated random draft is rarely accepted: the measured α pulls k down from 6
        assertTrue(adaptive.alpha() < 0.5, "alpha " + adaptive.alpha());
        assertTrue(adaptive.next() < 6, "k " + adaptive.next());
    }

    @Test
    void aRequestPastItsDeadlineEndsWithWhatItHas() {
        Serving s = start(2);
        TestProbe<RequestActor.Event> probe = KIT.createTestProbe();
        // a draft that never answers holds the request in its first round for the 2 s draft timeout, so the
        // deadline passes mid-request however fast the target decodes
        TestProbe<DraftActor.Command> silentDraft = KIT.createTestProbe();
        GenerationRequest request = new GenerationRequest(prompt(3), 120, SamplingParams.GREEDY, null, true, 2);
        KIT.spawn(RequestActor.create(new RequestActor.Setup("deadline", request, null, target.config().eosTokenId(),
                128, s.target(), silentDraft.getRef(), "d", 128, null, null, Duration.ofSeconds(2), Duration.ofMillis(1),
                probe.getRef(), null)));
        RequestActor.Finished f = finished(probe, 1).values().iterator().next();
        assertTrue(f.problem() instanceof Problem.DeadlinePassed, String.valueOf(f.problem()));
        assertTrue(f.result().tokens().length < 120);
        TestProbe<TargetActor.Stats> stats = KIT.createTestProbe();
        stats.awaitAssert(() -> {
            s.target().tell(new TargetActor.GetStats(stats.getRef()));
            assertEquals(0, stats.receiveMessage().openCaches());
            return null;
        });
    }

    @Test
    void aRequestWhoseTargetGoesMovesToAnotherTargetAndKeepsItsTokens() {
        Serving s = start(4);
        ActorRef<TargetActor.Command> other = KIT.spawn(TargetActor.create(target, 4, 16), "target-other-"
                + NAMES.incrementAndGet(), TARGETS);
        TestProbe<ServiceDirectory.Command> directory = KIT.createTestProbe();
        TestProbe<RequestActor.Event> client = KIT.createTestProbe();
        GenerationRequest r = new GenerationRequest(prompt(7), 120, SamplingParams.GREEDY, null, true, 3);
        KIT.spawn(RequestActor.create(new RequestActor.Setup("moves", r, null, target.config().eosTokenId(), 128,
                s.target(), s.draft(), "d", 128, null, null, Duration.ofSeconds(2), null, client.getRef(),
                directory.getRef())));
        int streamed = 0;
        while (streamed == 0) {
            if (client.receiveMessage(Duration.ofSeconds(30)) instanceof RequestActor.Tokens t) {
                streamed += t.tokens().length;
            }
        }
        KIT.stop(s.target());
        ServiceDirectory.ReplaceTarget ask = directory.expectMessageClass(ServiceDirectory.ReplaceTarget.class,
                Duration.ofSeconds(10));
        assertEquals(s.target(), ask.lost());
        ask.replyTo().tell(new ServiceDirectory.TargetFound(other));
        RequestActor.Finished f = finished(client, 1).get("moves");
        assertNull(f.problem(), String.valueOf(f.problem()));
        assertArrayEquals(plain(r), f.result().tokens(), "the same tokens as if the target had stayed");

        // with no other target the request ends, answered, and says why
        Serving lone = start(4);
        TestProbe<RequestActor.Event> client2 = KIT.createTestProbe();
        KIT.spawn(RequestActor.create(new RequestActor.Setup("stranded", r, null, target.config().eosTokenId(), 128,
                lone.target(), lone.draft(), "d", 128, null, null, Duration.ofSeconds(2), null, client2.getRef(),
                directory.getRef())));
        while (!(client2.receiveMessage(Duration.ofSeconds(30)) instanceof RequestActor.Tokens)) {
            Thread.onSpinWait();
        }
        KIT.stop(lone.target());
        directory.expectMessageClass(ServiceDirectory.ReplaceTarget.class, Duration.ofSeconds(10)).replyTo()
                .tell(new ServiceDirectory.TargetFound(null));
        RequestActor.Finished stranded = finished(client2, 1).get("stranded");
        assertTrue(stranded.problem() instanceof Problem.Unavailable, String.valueOf(stranded.problem()));
    }
}
