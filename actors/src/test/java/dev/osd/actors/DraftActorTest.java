package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.engine.DraftSource;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.Proposal;
import dev.osd.engine.SamplingParams;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The draft replica batches the proposals of every waiting request, and they are the ones made alone. */
class DraftActorTest {

    static final ActorTestKit KIT = ActorTestKit.create("draft-batched",
            config("osd.serving.warm-up-tokens = 16"));
    /** The same actor with batches of one: proposals one request at a time. */
    static final ActorTestKit ONE_BY_ONE = ActorTestKit.create("draft-one-by-one",
            config("osd.serving.warm-up-tokens = 16\nosd.draft.max-batch = 1"));
    static final DispatcherSelector DRAFTS = DispatcherSelector.fromConfig("osd.draft-dispatcher");
    static final AtomicInteger NAMES = new AtomicInteger();
    static ServingModels models;

    static Config config(String overrides) {
        return ConfigFactory.parseString(overrides).withFallback(ConfigFactory.load());
    }

    @BeforeAll
    static void open() {
        models = new ServingModels();
    }

    @AfterAll
    static void close() {
        KIT.shutdownTestKit();
        ONE_BY_ONE.shutdownTestKit();
        models.close();
    }

    static int[] sequence(int i, int length) {
        int[] s = new int[length];
        for (int j = 0; j < length; j++) {
            s[j] = (1 + 5 * i + 3 * j + j * j) % 64;
        }
        return s;
    }

    static SamplingParams sampling(int i) {
        return i % 2 == 0 ? SamplingParams.GREEDY : new SamplingParams(0.8, i % 3 == 0 ? 10 : 0, 0.9, 0);
    }

    @Test
    void batchedDrawsAreExactlyTheProposalsOfEachRequestAlone() {
        LlamaModel draft = models.draft;
        int[] ks = {1, 3, 5, 2, 4, 5, 1};
        int[] cached = {0, 12, 3, 0, 30, 7, 20};
        int[] fresh = {9, 1, 2, 17, 1, 4, 1};
        try (KvCachePool batchedPool = draft.newCachePool(ks.length, 96);
                KvCachePool alonePool = draft.newCachePool(1, 96)) {
            List<DraftActor.Row> rows = new ArrayList<>();
            for (int b = 0; b < ks.length; b++) {
                int[] seq = sequence(b, cached[b] + fresh[b]);
                KvCache cache = batchedPool.acquire();
                if (cached[b] > 0) {
                    draft.forward(cache, Arrays.copyOf(seq, cached[b]), 1);
                }
                rows.add(new DraftActor.Row(cache, Arrays.copyOfRange(seq, cached[b], seq.length), ks[b],
                        sampling(b), new SplittableRandom(100 + b)));
            }
            long[] forwards = {0};
            List<Proposal> batched = DraftActor.draw(draft, rows, Proposal.DEFAULT_TOP_N, forwards);
            assertEquals(5, forwards[0], "one forward per proposal step, for every row at once");
            for (int b = 0; b < ks.length; b++) {
                int[] seq = sequence(b, cached[b] + fresh[b]);
                Proposal alone;
                try (KvCache cache = alonePool.acquire()) {
                    alone = Proposal.draw(draft, cache, seq, ks[b], sampling(b), Proposal.DEFAULT_TOP_N,
                            new SplittableRandom(100 + b));
                }
                assertArrayEquals(alone.tokens(), batched.get(b).tokens(), "tokens of request " + b);
                assertEquals(ks[b], batched.get(b).q().length);
                for (int i = 0; i < ks[b]; i++) {
                    assertEquals(alone.q()[i], batched.get(b).q()[i], "q of request " + b + " step " + i);
                }
                assertEquals(seq.length + ks[b] - 1, rows.get(b).cache().length(),
                        "the cache holds the sequence and the first k - 1 drawn tokens");
                rows.get(b).cache().close();
            }
        }
    }

    /**
     * A fixed draft whose first lease (the replica's warm-up) says it was asked for, then waits until the test has
     * done what it must while the replica warms up.
     */
    static DraftSource gated(LlamaModel model, CountDownLatch entered, CountDownLatch gate) {
        DraftSource fixed = DraftSource.fixed(model);
        return () -> {
            entered.countDown();
            try {
                assertTrue(gate.await(30, TimeUnit.SECONDS), "the test opens the gate");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            return fixed.acquire();
        };
    }

    static DraftSource gated(LlamaModel model, CountDownLatch gate) {
        return gated(model, new CountDownLatch(1), gate);
    }

    /**
     * Sends one proposal per request, each with its sequence from {@code starts[i]} on (what the replica was not
     * told yet; null: whole sequences), and collects the answers by request.
     */
    static Map<String, DraftActor.Proposed> propose(ActorRef<DraftActor.Command> actor, TestProbe<Object> owner,
            TestProbe<DraftActor.Proposed> replies, List<int[]> sequences, int[] ks, int[] starts) {
        for (int i = 0; i < sequences.size(); i++) {
            int start = starts == null ? 0 : starts[i];
            int[] seq = sequences.get(i);
            actor.tell(new DraftActor.Propose("r" + i, start, Arrays.copyOfRange(seq, start, seq.length), ks[i],
                    sampling(i), 1000 + i, owner.getRef(), replies.getRef()));
        }
        Map<String, DraftActor.Proposed> got = new HashMap<>();
        for (int i = 0; i < sequences.size(); i++) {
            DraftActor.Proposed p = replies.receiveMessage(Duration.ofSeconds(30));
            assertNull(p.problem(), p.problem());
            got.put(p.requestId(), p);
        }
        return got;
    }

    static DraftActor.Stats stats(ActorTestKit kit, ActorRef<DraftActor.Command> actor) {
        TestProbe<DraftActor.Stats> probe = kit.createTestProbe();
        actor.tell(new DraftActor.GetStats(probe.getRef()));
        return probe.receiveMessage();
    }

    @Test
    void aReplicaProposesForEveryWaitingRequestInOneForwardPerStepAndTheProposalsAreThoseMadeOneByOne() {
        int requests = 6;
        int[] ks = {3, 1, 5, 2, 4, 5};
        List<int[]> first = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            first.add(sequence(i, 4 + 3 * i));
        }
        Map<String, ActorRef<DraftActor.Command>> actors = new HashMap<>();
        Map<String, Map<String, DraftActor.Proposed>> firstRound = new HashMap<>();
        Map<String, Map<String, DraftActor.Proposed>> secondRound = new HashMap<>();
        Map<String, ActorTestKit> kits = Map.of("batched", KIT, "one-by-one", ONE_BY_ONE);
        for (Map.Entry<String, ActorTestKit> k : kits.entrySet()) {
            ActorTestKit kit = k.getValue();
            KvCachePool pool = models.draft.newCachePool(requests, 96);
            CountDownLatch gate = new CountDownLatch(1);
            ActorRef<DraftActor.Command> actor = kit.spawn(DraftActor.create("d", gated(models.draft, gate), pool),
                    "draft-" + NAMES.incrementAndGet(), DRAFTS);
            actors.put(k.getKey(), actor);
            TestProbe<Object> owner = kit.createTestProbe();
            TestProbe<DraftActor.Proposed> replies = kit.createTestProbe();
            // every proposal is in the mailbox before the replica has finished its warm-up
            for (int i = 0; i < requests; i++) {
                actor.tell(new DraftActor.Propose("r" + i, first.get(i), ks[i], sampling(i), 1000 + i,
                        owner.getRef(), replies.getRef()));
            }
            gate.countDown();
            Map<String, DraftActor.Proposed> got = new HashMap<>();
            for (int i = 0; i < requests; i++) {
                DraftActor.Proposed p = replies.receiveMessage(Duration.ofSeconds(30));
                assertNull(p.problem(), p.problem());
                got.put(p.requestId(), p);
            }
            firstRound.put(k.getKey(), got);
            assertEquals(k.getKey().equals("batched") ? 5 : Arrays.stream(ks).sum(), stats(kit, actor).forwards(),
                    "batched: one forward per step of the longest proposal; alone: one per proposed token");
            // the next round: each request accepted some of its proposal and the target added a token, so the
            // replica feeds only what its cache lacks; each request sends only the tokens after its first sequence
            List<int[]> second = new ArrayList<>();
            int[] starts = first.stream().mapToInt(f -> f.length).toArray();
            for (int i = 0; i < requests; i++) {
                int[] proposed = got.get("r" + i).tokens();
                int accepted = i % (proposed.length + 1);
                int[] next = Arrays.copyOf(first.get(i), first.get(i).length + accepted + 1);
                System.arraycopy(proposed, 0, next, first.get(i).length, accepted);
                next[next.length - 1] = (7 * i + 2) % 64;
                second.add(next);
            }
            secondRound.put(k.getKey(), propose(actor, owner, replies, second, ks, starts));
            DraftActor.Stats s = stats(kit, actor);
            assertEquals(2L * requests, s.proposals());
            assertEquals(requests, s.openCaches());
            assertTrue(s.warmUpPositions() > 0, "it warmed up first");
            for (int i = 0; i < requests; i++) {
                actor.tell(new DraftActor.Release("r" + i));
            }
            TestProbe<DraftActor.Stats> probe = kit.createTestProbe();
            probe.awaitAssert(() -> {
                assertEquals(requests, pool.freeSlots(), "every released cache is back in the pool");
                return null;
            });
        }
        for (String round : List.of("first", "second")) {
            Map<String, Map<String, DraftActor.Proposed>> byMode = round.equals("first") ? firstRound : secondRound;
            for (int i = 0; i < requests; i++) {
                DraftActor.Proposed batched = byMode.get("batched").get("r" + i);
                DraftActor.Proposed alone = byMode.get("one-by-one").get("r" + i);
                assertArrayEquals(alone.tokens(), batched.tokens(), round + " round, request " + i);
                assertEquals(ks[i], batched.tokens().length);
                for (int j = 0; j < ks[i]; j++) {
                    assertEquals(alone.q()[j], batched.q()[j], round + " round, request " + i + " step " + j);
                    assertTrue(batched.q()[j].ids().length <= Proposal.DEFAULT_TOP_N, "q travels as its top N");
                }
            }
        }
        // the proposals of the first round are the engine's own unbatched draws
        try (KvCachePool alone = models.draft.newCachePool(1, 96)) {
            for (int i = 0; i < requests; i++) {
                try (KvCache cache = alone.acquire()) {
                    Proposal p = Proposal.draw(models.draft, cache, first.get(i), ks[i], sampling(i),
                            Proposal.DEFAULT_TOP_N, new SplittableRandom(1000 + i));
                    assertArrayEquals(p.tokens(), firstRound.get("batched").get("r" + i).tokens());
                }
            }
        }
        assertEquals(requests, stats(KIT, actors.get("batched")).largestBatch(),
                "all six waiting requests went into one batch");
        assertEquals(1, stats(ONE_BY_ONE, actors.get("one-by-one")).largestBatch());
    }

    @Test
    void theBatchTakesOneProposalPerRequestInOrderAndKeepsLongCatchUpsApartWhereTheForwardPads() {
        TestProbe<DraftActor.Proposed> replies = KIT.createTestProbe();
        Map<String, Integer> feed = Map.of("a", 1, "b", 40, "c", 3, "d", 1, "e", 25, "f", 2);
        java.util.function.Function<String, DraftActor.Propose> p = id -> new DraftActor.Propose(id.substring(0, 1),
                new int[] {1}, 3, SamplingParams.GREEDY, 0, null, replies.getRef());
        ArrayDeque<DraftActor.Propose> queue = new ArrayDeque<>(List.of(p.apply("a"), p.apply("b"), p.apply("c"),
                p.apply("a2"), p.apply("d"), p.apply("e"), p.apply("f")));
        // no padding (the CPU forward): every kind together, but a request's second proposal waits
        assertEquals(List.of("a", "b", "c", "d", "e", "f"), ids(DraftActor.nextBatch(queue, 16, Integer.MAX_VALUE,
                q -> feed.get(q.requestId()))));
        assertEquals(List.of("a"), ids(new ArrayList<>(queue)));
        assertEquals(List.of("a"), ids(DraftActor.nextBatch(queue, 16, Integer.MAX_VALUE,
                q -> feed.get(q.requestId()))));
        assertTrue(queue.isEmpty());
        // a padding forward: the oldest decides the kind, the other kind keeps its place; the bound holds
        queue.addAll(List.of(p.apply("b"), p.apply("a"), p.apply("e"), p.apply("c"), p.apply("b2")));
        assertEquals(List.of("b", "e"), ids(DraftActor.nextBatch(queue, 16, 16, q -> feed.get(q.requestId()))));
        assertEquals(List.of("a", "c"), ids(DraftActor.nextBatch(queue, 16, 16, q -> feed.get(q.requestId()))));
        assertEquals(List.of("b"), ids(DraftActor.nextBatch(queue, 1, 16, q -> feed.get(q.requestId()))));
        assertTrue(queue.isEmpty());
        assertTrue(DraftActor.nextBatch(queue, 16, 16, q -> 1).isEmpty());
    }

    static List<String> ids(List<DraftActor.Propose> batch) {
        return batch.stream().map(DraftActor.Propose::requestId).toList();
    }

    @Test
    void aBadRequestIsAnsweredWithItsProblemAndTheOthersInItsBatchGoOn() {
        KvCachePool pool = models.draft.newCachePool(3, 96);
        CountDownLatch gate = new CountDownLatch(1);
        ActorRef<DraftActor.Command> actor = KIT.spawn(DraftActor.create("d", gated(models.draft, gate), pool),
                "draft-" + NAMES.incrementAndGet(), DRAFTS);
        TestProbe<Object> owner = KIT.createTestProbe();
        TestProbe<DraftActor.Proposed> replies = KIT.createTestProbe();
        actor.tell(new DraftActor.Propose("good", new int[] {1, 2, 3}, 2, SamplingParams.GREEDY, 0, owner.getRef(),
                replies.getRef()));
        actor.tell(new DraftActor.Propose("bad", new int[] {1, 999}, 2, SamplingParams.GREEDY, 0, owner.getRef(),
                replies.getRef()));
        actor.tell(new DraftActor.Propose("full", new int[95], 4, SamplingParams.GREEDY, 0, owner.getRef(),
                replies.getRef()));
        gate.countDown();
        Map<String, DraftActor.Proposed> got = new HashMap<>();
        for (int i = 0; i < 3; i++) {
            DraftActor.Proposed p = replies.receiveMessage(Duration.ofSeconds(30));
            got.put(p.requestId(), p);
        }
        assertNull(got.get("good").problem());
        assertEquals(2, got.get("good").tokens().length);
        assertTrue(got.get("bad").problem().contains("outside the vocabulary"), got.get("bad").problem());
        // one position left: a proposal of one token, not four
        assertNull(got.get("full").problem(), got.get("full").problem());
        assertEquals(1, got.get("full").tokens().length);
        // a proposal continuing a sequence the replica was never told is answered with where to send it from
        actor.tell(new DraftActor.Propose("stranger", 4, new int[] {5}, 2, SamplingParams.GREEDY, 0, owner.getRef(),
                replies.getRef()));
        DraftActor.Proposed lost = replies.receiveMessage(Duration.ofSeconds(30));
        assertEquals(0, lost.resyncFrom());
        assertTrue(lost.problem().contains("holds 0 tokens"), lost.problem());
        // the good request continues from what it told: three tokens, then two more
        actor.tell(new DraftActor.Propose("good", 3, new int[] {4, 5}, 2, SamplingParams.GREEDY, 0, owner.getRef(),
                replies.getRef()));
        DraftActor.Proposed more = replies.receiveMessage(Duration.ofSeconds(30));
        assertNull(more.problem(), more.problem());
        try (KvCachePool alone = models.draft.newCachePool(1, 96); KvCache cache = alone.acquire()) {
            assertArrayEquals(Proposal.draw(models.draft, cache, new int[] {1, 2, 3, 4, 5}, 2, SamplingParams.GREEDY,
                    Proposal.DEFAULT_TOP_N, new SplittableRandom(0)).tokens(), more.tokens());
        }
        owner.stop();
        TestProbe<DraftActor.Stats> probe = KIT.createTestProbe();
        probe.awaitAssert(() -> {
            assertEquals(3, pool.freeSlots(), "the owner's end frees its caches");
            return null;
        });
    }

    @Test
    void aWarmedReplicaIsListedOnlyOnceWarmAndServes() {
        ServiceKey<DraftActor.Command> key = ServiceKey.create(DraftActor.Command.class, "warm-draft-test");
        TestProbe<Receptionist.Listing> listings = KIT.createTestProbe();
        KIT.system().receptionist().tell(Receptionist.subscribe(key, listings.getRef()));
        assertTrue(listings.receiveMessage().getServiceInstances(key).isEmpty());
        KvCachePool pool = models.draft.newCachePool(2, 96);
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch gate = new CountDownLatch(1);
        ActorRef<DraftActor.Command> actor = KIT.spawn(DraftActor.create("d", gated(models.draft, entered, gate), pool,
                key), "draft-" + NAMES.incrementAndGet(), DRAFTS);
        // held in its warm-up, the replica is not listed (a registration sent before it would be seen here)
        try {
            assertTrue(entered.await(30, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
        try {
            TestProbe<Receptionist.Listing> found = KIT.createTestProbe();
            KIT.system().receptionist().tell(Receptionist.find(key, found.getRef()));
            assertTrue(found.receiveMessage().getServiceInstances(key).isEmpty(), "listed before its warm-up ended");
        } finally {
            gate.countDown();
        }
        assertEquals(java.util.Set.of(actor), listings.receiveMessage(Duration.ofSeconds(30))
                .getServiceInstances(key));
        DraftActor.Stats s = stats(KIT, actor);
        assertTrue(s.warmUpPositions() >= 16 + 16, "warm-up positions " + s.warmUpPositions());
        assertEquals(0, s.openCaches());
        assertEquals(2, pool.freeSlots(), "the warm-up gave its cache back");
        TestProbe<DraftActor.Proposed> replies = KIT.createTestProbe();
        actor.tell(new DraftActor.Propose("w", sequence(3, 10), 4, SamplingParams.GREEDY, 0, KIT.createTestProbe()
                .getRef(), replies.getRef()));
        DraftActor.Proposed p = replies.receiveMessage(Duration.ofSeconds(30));
        assertNull(p.problem(), p.problem());
        try (KvCachePool alone = models.draft.newCachePool(1, 96); KvCache cache = alone.acquire()) {
            assertArrayEquals(Proposal.draw(models.draft, cache, sequence(3, 10), 4, SamplingParams.GREEDY,
                    Proposal.DEFAULT_TOP_N, new SplittableRandom(0)).tokens(), p.tokens(), "the warm-up left nothing behind");
        }
        assertNotNull(p.q());
    }
}
