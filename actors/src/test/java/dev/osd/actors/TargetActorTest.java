package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.typesafe.config.ConfigFactory;
import dev.osd.distillation.DistillationRecord;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import dev.osd.engine.Sampler;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SparseDistribution;
import dev.osd.engine.SpeculativeDecoder;
import dev.osd.engine.TokenLogprob;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TargetActorTest {

    static final ActorTestKit KIT = ActorTestKit.create();
    static NDManager manager;
    static LlamaModel target;

    @BeforeAll
    static void model() {
        manager = NDManager.newBaseManager();
        target = LlamaModel.of(LlamaWeights.random(LlamaConfig.builder()
                .setHiddenSize(48).setIntermediateSize(96).setNumHiddenLayers(2).setNumAttentionHeads(4)
                .optNumKeyValueHeads(2).setVocabSize(64).optMaxPositionEmbeddings(128).optBosTokenId(1)
                .optEosTokenId(0).build(), 21, 0.3, manager));
    }

    @AfterAll
    static void close() {
        KIT.shutdownTestKit();
        manager.close();
    }

    /** A request reduced to its target work: greedy decoding through Score messages. */
    record Done(int client, int[] tokens) {
    }

    static Behavior<Object> greedyClient(int client, int[] prompt, int steps, ActorRef<TargetActor.Command> targetActor,
            ActorRef<Done> report) {
        return Behaviors.setup(ctx -> {
            String id = "r" + client;
            ActorRef<TargetActor.Opened> opened = ctx.messageAdapter(TargetActor.Opened.class, o -> o);
            ActorRef<TargetActor.Scored> scored = ctx.messageAdapter(TargetActor.Scored.class, s -> s);
            targetActor.tell(new TargetActor.Open(id, ctx.getSelf(), opened));
            int[] out = new int[steps];
            int[] length = {prompt.length};
            int[] done = {0};
            return Behaviors.receive(Object.class)
                    .onMessage(TargetActor.Opened.class, o -> {
                        targetActor.tell(TargetActor.Score.step(id, 0, prompt, SamplingParams.GREEDY, 0, -1, scored));
                        return Behaviors.same();
                    })
                    .onMessage(TargetActor.Scored.class, s -> {
                        assertNotNull(s.tokens(), s.problem());
                        int next = s.tokens()[0];
                        out[done[0]++] = next;
                        if (done[0] == steps) {
                            targetActor.tell(new TargetActor.Close(id));
                            report.tell(new Done(client, out));
                            return Behaviors.stopped();
                        }
                        targetActor.tell(TargetActor.Score.step(id, length[0], new int[] {next}, SamplingParams.GREEDY,
                                0, -1, scored));
                        length[0]++;
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    @Test
    void concurrentRequestsShareForwardsAndGetTheTokensOfUnbatchedDecoding() {
        ActorRef<TargetActor.Command> actor = KIT.spawn(TargetActor.create(target, 16, 16), "target-batching",
                DispatcherSelector.fromConfig("osd.target-dispatcher"));
        TestProbe<Done> probe = KIT.createTestProbe();
        int clients = 12;
        int steps = 20;
        List<int[]> prompts = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int[] prompt = {1, 5 + c, 17, 30 + c % 7};
            prompts.add(prompt);
            KIT.spawn(greedyClient(c, prompt, steps, actor, probe.getRef()), "client-" + c);
        }
        int[][] got = new int[clients][];
        for (int i = 0; i < clients; i++) {
            Done d = probe.receiveMessage(Duration.ofSeconds(30));
            got[d.client()] = d.tokens();
        }
        try (KvCachePool pool = target.newCachePool(1)) {
            SpeculativeDecoder plain = SpeculativeDecoder.targetOnly(target, pool, null);
            for (int c = 0; c < clients; c++) {
                int[] expected = plain.generate(new GenerationRequest(prompts.get(c), steps, SamplingParams.GREEDY,
                        null, true, 0)).tokens();
                assertArrayEquals(expected, got[c], "client " + c);
            }
        }
        TestProbe<TargetActor.Stats> stats = KIT.createTestProbe();
        actor.tell(new TargetActor.GetStats(stats.getRef()));
        TargetActor.Stats s = stats.receiveMessage();
        assertEquals((long) clients * steps, s.scored());
        assertTrue(s.forwards() < s.scored() / 2, "batched: " + s.forwards() + " forwards for " + s.scored()
                + " sequences, largest batch " + s.largestBatch());
        assertTrue(s.largestBatch() > 1);
        assertEquals(0, s.openCaches(), "every request closed its cache");
    }

    /**
     * The target verifies a proposal next to its logits: a greedy proposal whose first two tokens are the
     * target's own is accepted up to the third, the answer carries the target's tokens and their
     * log-probabilities, and the draft's trainer gets the round's record from the target, aligned to the
     * sequence the target holds. A proposal outside its own q is refused with the problem.
     */
    @Test
    void verifiesNextToTheLogitsAndSendsTheRecordToTheTrainer() {
        ActorRef<TargetActor.Command> actor = KIT.spawn(TargetActor.create(target, 2, 4), "target-verifies",
                DispatcherSelector.fromConfig("osd.target-dispatcher"));
        int[] prompt = {1, 9, 22, 40, 3};
        int[] greedy;
        try (KvCachePool pool = target.newCachePool(1)) {
            greedy = SpeculativeDecoder.targetOnly(target, pool, null).generate(new GenerationRequest(prompt, 3,
                    SamplingParams.GREEDY, null, true, 0)).tokens();
        }
        TestProbe<TargetActor.Opened> opened = KIT.createTestProbe();
        TestProbe<TrainerActor.Command> trainer = KIT.createTestProbe();
        TestProbe<TargetActor.Scored> scored = KIT.createTestProbe();
        actor.tell(new TargetActor.Open("v", opened.getRef(), opened.getRef(), trainer.getRef()));
        assertTrue(opened.receiveMessage().accepted());
        actor.tell(TargetActor.Score.prefill("v", 0, java.util.Arrays.copyOf(prompt, 4), scored.getRef()));
        TargetActor.Scored prefill = scored.receiveMessage(Duration.ofSeconds(30));
        assertEquals(0, prefill.tokens().length, "a prefill decides nothing");
        int wrong = (greedy[2] + 1) % 64;
        int[] proposal = {greedy[0], greedy[1], wrong};
        SparseDistribution[] q = new SparseDistribution[3];
        for (int i = 0; i < 3; i++) {
            q[i] = new SparseDistribution(new int[] {proposal[i]}, new double[] {1});
        }
        actor.tell(new TargetActor.Score("v", 4, new int[] {3, proposal[0], proposal[1], wrong}, q,
                SamplingParams.GREEDY, 7, 2, scored.getRef()));
        TargetActor.Scored verified = scored.receiveMessage(Duration.ofSeconds(30));
        assertEquals(2, verified.verification().accepted(), String.valueOf(verified.problem()));
        assertArrayEquals(greedy, verified.tokens(), "the accepted proposals, then the target's correction");
        assertEquals(3, verified.logprobs().size());
        assertEquals(greedy[2], verified.logprobs().get(2).token());
        DistillationRecord record = ((TrainerActor.Learn) trainer.receiveMessage()).record();
        assertArrayEquals(new int[] {1, 9, 22, 40, 3, greedy[0], greedy[1]}, record.tokens());
        assertArrayEquals(new int[] {4, 5, 6}, record.positions(), "every verified position, the correction last");
        assertEquals(greedy[2], record.targets()[2].argmax());
        // q that never proposed its token: the round is refused, nothing is taught
        actor.tell(new TargetActor.Score("v", 6, new int[] {greedy[1], 5}, new SparseDistribution[] {
            new SparseDistribution(new int[] {6}, new double[] {1})}, SamplingParams.GREEDY, 7, -1, scored.getRef()));
        assertTrue(scored.receiveMessage().problem().contains("zero draft probability"));
        // the trainer's next record is the next good round's (context of 8 tokens): none came for the refused one
        actor.tell(new TargetActor.Score("v", 7, new int[] {greedy[2], 5}, new SparseDistribution[] {
            new SparseDistribution(new int[] {5}, new double[] {1})}, SamplingParams.GREEDY, 7, -1, scored.getRef()));
        assertNotNull(scored.receiveMessage(Duration.ofSeconds(30)).verification());
        DistillationRecord next = ((TrainerActor.Learn) trainer.receiveMessage()).record();
        assertEquals(7, next.positions()[0]);
        assertEquals(greedy[2], next.tokens()[7]);
        actor.tell(new TargetActor.Close("v"));
    }

    @Test
    void overloadIsRefusedAndAStoppedRequestFreesItsCache() {
        ActorRef<TargetActor.Command> actor = KIT.spawn(TargetActor.create(target, 2, 4), "target-small",
                DispatcherSelector.fromConfig("osd.target-dispatcher"));
        TestProbe<TargetActor.Opened> opened = KIT.createTestProbe();
        TestProbe<Object> owner1 = KIT.createTestProbe();
        TestProbe<Object> owner2 = KIT.createTestProbe();
        actor.tell(new TargetActor.Open("a", owner1.getRef(), opened.getRef()));
        actor.tell(new TargetActor.Open("b", owner2.getRef(), opened.getRef()));
        actor.tell(new TargetActor.Open("c", owner2.getRef(), opened.getRef()));
        assertTrue(opened.receiveMessage().accepted());
        assertTrue(opened.receiveMessage().accepted());
        TargetActor.Opened refused = opened.receiveMessage();
        assertFalse(refused.accepted());
        assertTrue(refused.problem().contains("in use"), refused.problem());
        owner1.stop();
        TestProbe<TargetActor.Stats> stats = KIT.createTestProbe();
        stats.awaitAssert(() -> {
            actor.tell(new TargetActor.GetStats(stats.getRef()));
            assertEquals(1, stats.receiveMessage().openCaches());
            return null;
        });
        actor.tell(new TargetActor.Open("c", owner2.getRef(), opened.getRef()));
        assertTrue(opened.receiveMessage().accepted());
        // bad work is answered with its problem, and the actor goes on
        TestProbe<TargetActor.Scored> scored = KIT.createTestProbe();
        actor.tell(TargetActor.Score.step("c", 0, new int[] {1, 999}, SamplingParams.GREEDY, 0, -1, scored.getRef()));
        assertTrue(scored.receiveMessage().problem().contains("outside the vocabulary"));
        actor.tell(TargetActor.Score.step("zzz", 0, new int[] {1}, SamplingParams.GREEDY, 0, -1, scored.getRef()));
        assertTrue(scored.receiveMessage().problem().contains("no open target cache"));
        actor.tell(TargetActor.Score.step("c", 0, new int[] {1, 2}, SamplingParams.GREEDY, 0, -1, scored.getRef()));
        assertEquals(1, scored.receiveMessage().tokens().length);
    }

    @Test
    void aPrefillIsNotBatchedWithDecodeStepsThatWouldPayForItsLength() {
        int[] prefill = new int[TargetActor.SHORT_WORK + 14];
        TestProbe<TargetActor.Scored> replies = KIT.createTestProbe();
        java.util.function.BiFunction<String, int[], TargetActor.Score> score = (id, tokens) ->
                TargetActor.Score.prefill(id, 0, tokens, replies.getRef());
        java.util.ArrayDeque<TargetActor.Score> queue = new java.util.ArrayDeque<>(List.of(score.apply("a",
                new int[] {1, 2}), score.apply("b", prefill), score.apply("c", new int[] {1, 3}), score.apply("d",
                new int[] {1}), score.apply("e", prefill)));
        // the oldest is short: the short ones go together, the prefills wait in order
        assertEquals(List.of("a", "c", "d"), TargetActor.nextBatch(queue, 16).stream()
                .map(TargetActor.Score::requestId).toList());
        assertEquals(List.of("b", "e"), TargetActor.nextBatch(queue, 16).stream()
                .map(TargetActor.Score::requestId).toList());
        assertTrue(queue.isEmpty());
        // the oldest is a prefill: prefills go together (up to the bound), short work keeps its place
        queue.addAll(List.of(score.apply("f", prefill), score.apply("g", new int[] {4}), score.apply("h", prefill),
                score.apply("i", prefill)));
        assertEquals(List.of("f", "h"), TargetActor.nextBatch(queue, 2).stream()
                .map(TargetActor.Score::requestId).toList());
        assertEquals(List.of("g", "i"), queue.stream().map(TargetActor.Score::requestId).toList());
    }

    @Test
    void aWarmedTargetIsListedAndServesWhatAColdModelServes() {
        ActorTestKit cold = ActorTestKit.create("target-cold", ConfigFactory.parseString(
                "osd.serving.warm-up-tokens = 0").withFallback(ConfigFactory.load()));
        try {
            for (ActorTestKit kit : List.of(KIT, cold)) {
                boolean warm = kit == KIT;
                ServiceKey<TargetActor.Command> key = ServiceKey.create(TargetActor.Command.class, "warm-target-"
                        + warm);
                TestProbe<Receptionist.Listing> listings = kit.createTestProbe();
                kit.system().receptionist().tell(Receptionist.subscribe(key, listings.getRef()));
                assertTrue(listings.receiveMessage().getServiceInstances(key).isEmpty());
                ActorRef<TargetActor.Command> actor = kit.spawn(TargetActor.create(target, 2, 4, key),
                        "target-warm-" + warm, DispatcherSelector.fromConfig("osd.target-dispatcher"));
                assertEquals(Set.of(actor), listings.receiveMessage(Duration.ofSeconds(30)).getServiceInstances(key));
                TestProbe<TargetActor.Stats> stats = kit.createTestProbe();
                actor.tell(new TargetActor.GetStats(stats.getRef()));
                TargetActor.Stats s = stats.receiveMessage();
                if (warm) {
                    // the default: a 64-token prefill and 64 decodes, some of them verification-shaped
                    assertTrue(s.warmUpPositions() >= 128, "warm-up positions " + s.warmUpPositions());
                } else {
                    assertEquals(0, s.warmUpPositions());
                }
                assertEquals(0, s.forwards(), "the warm-up is not counted as serving");
                assertEquals(0, s.openCaches());
                TestProbe<TargetActor.Opened> opened = kit.createTestProbe();
                TestProbe<TargetActor.Scored> scored = kit.createTestProbe();
                for (String id : List.of("x", "y")) {
                    actor.tell(new TargetActor.Open(id, opened.getRef(), opened.getRef()));
                    assertTrue(opened.receiveMessage().accepted(), "the warm-up gave every cache back");
                }
                int[] prompt = {1, 7, 9, 30, 2};
                actor.tell(TargetActor.Score.step("x", 0, prompt, SamplingParams.GREEDY, 0, 5, scored.getRef()));
                TargetActor.Scored served = scored.receiveMessage(Duration.ofSeconds(30));
                try (KvCachePool pool = target.newCachePool(1); KvCache cache = pool.acquire()) {
                    float[] expected = target.forward(cache, prompt, 1)[0];
                    int next = Sampler.argmax(expected);
                    assertArrayEquals(new int[] {next}, served.tokens());
                    TokenLogprob want = TokenLogprob.of(expected, next, 5);
                    TokenLogprob got = served.logprobs().get(0);
                    assertEquals(want.logprob(), got.logprob(), 1e-5);
                    assertArrayEquals(want.topTokens(), got.topTokens());
                }
            }
        } finally {
            cold.shutdownTestKit();
        }
    }
}
