package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.osd.engine.DraftSource;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculativeDecoder;
import dev.osd.engine.TokenLogprob;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Echo's prompt log-probabilities through the actors: the request's prefill asks the target for them in parts,
 * and what comes back equals what one target-only forward over the prompt gives; the prompts'
 * generated tokens are the ones target-only decoding gives without echo, with speculation on and off, while
 * other requests share the target's forwards.
 */
class EchoLogprobsTest {

    static final ActorTestKit KIT = ActorTestKit.create();
    static final int CONTEXT = 512;
    static NDManager manager;
    static LlamaModel target;
    static LlamaModel draft;

    @BeforeAll
    static void models() {
        manager = NDManager.newBaseManager();
        target = LlamaModel.of(LlamaWeights.random(LlamaConfig.builder()
                .setHiddenSize(48).setIntermediateSize(96).setNumHiddenLayers(2).setNumAttentionHeads(4)
                .optNumKeyValueHeads(2).setVocabSize(64).optMaxPositionEmbeddings(CONTEXT).optBosTokenId(1)
                .optEosTokenId(0).build(), 31, 0.3, manager));
        draft = LlamaModel.of(LlamaWeights.random(LlamaConfig.builder()
                .setHiddenSize(32).setIntermediateSize(64).setNumHiddenLayers(1).setNumAttentionHeads(2)
                .setVocabSize(64).optMaxPositionEmbeddings(CONTEXT).optBosTokenId(1).optEosTokenId(0).build(), 32,
                0.3, manager));
    }

    @AfterAll
    static void close() {
        KIT.shutdownTestKit();
        draft.close();
        target.close();
        manager.close();
    }

    static int[] prompt(int length, long seed) {
        int[] p = new SplittableRandom(seed).ints(length, 2, 64).toArray();
        p[0] = 1;
        return p;
    }

    static GenerationRequest request(int[] prompt, int k, int top, boolean echo) {
        return new GenerationRequest(prompt, 12, SamplingParams.GREEDY, null, true, k, top, echo);
    }

    /** What one forward over the prompt gives, every row kept: the reference, computed with the model alone. */
    static List<TokenLogprob> reference(int[] prompt, int top) {
        try (KvCachePool pool = target.newCachePool(1); KvCache cache = pool.acquire()) {
            List<TokenLogprob> all = TokenLogprob.promptLogprobs(
                    target.forward(cache, Arrays.copyOf(prompt, prompt.length - 1)), prompt, top);
            assertNull(all.get(0), "nothing predicts the first token");
            return all.subList(1, all.size());
        }
    }

    static int[] plain(GenerationRequest r) {
        try (KvCachePool pool = target.newCachePool(1)) {
            return SpeculativeDecoder.targetOnly(target, pool, null).generate(r).tokens();
        }
    }

    static void assertSameEntries(List<TokenLogprob> expected, List<TokenLogprob> actual, String what) {
        assertSameEntries(expected, actual, what, 0);
    }

    /** Entry by entry: the same tokens and alternatives, log-probabilities within {@code tolerance}. */
    static void assertSameEntries(List<TokenLogprob> expected, List<TokenLogprob> actual, String what,
            double tolerance) {
        assertNotNull(actual, what + ": no prompt logprobs");
        assertEquals(expected.size(), actual.size(), what + ": entries");
        for (int i = 0; i < expected.size(); i++) {
            TokenLogprob e = expected.get(i);
            TokenLogprob a = actual.get(i);
            String at = what + ", prompt token " + (i + 1);
            assertEquals(e.token(), a.token(), at);
            assertEquals(e.logprob(), a.logprob(), tolerance, at);
            assertTrue(Float.isFinite(a.logprob()) && a.logprob() <= 0, at + ": " + a.logprob());
            assertArrayEquals(e.topTokens(), a.topTokens(), at);
            assertArrayEquals(e.topLogprobs(), a.topLogprobs(), (float) tolerance, at);
        }
    }

    record Case(String name, int[] prompt, int k, int top, boolean echo) {
    }

    /**
     * The entries equal the reference exactly: the forward gives a row the same bits alone, batched or at any JIT
     * tier (its exp is {@code FloatExp}, not the Vector API's, whose compiled and interpreted forms differ).
     */
    static final double TOLERANCE = 0;

    /** One request at a time: nothing shares its prefill's forwards. */
    @Test
    void echoedPromptLogprobsEqualATargetOnlyForwardOverThePrompt() {
        serve(true, TOLERANCE);
    }

    /** All at once, sharing the target's forwards (and speculating ones their verifications). */
    @Test
    void echoedPromptLogprobsHoldWhileOtherRequestsShareTheForwards() {
        serve(false, TOLERANCE);
    }

    void serve(boolean oneAtATime, double tolerance) {
        int slots = 6;
        String name = oneAtATime ? "alone" : "shared";
        ActorRef<TargetActor.Command> targetActor = KIT.spawn(TargetActor.create(target, slots, 8), "target-" + name,
                DispatcherSelector.fromConfig("osd.target-dispatcher"));
        KvCachePool draftPool = draft.newCachePool(slots);
        ActorRef<DraftActor.Command> draftActor = KIT.spawn(DraftActor.create("d", DraftSource.fixed(draft),
                draftPool), "draft-" + name, DispatcherSelector.fromConfig("osd.draft-dispatcher"));
        int part = RequestActor.PROMPT_LOGPROBS_PART;
        List<Case> cases = List.of(
                // three parts (the last of 43 positions), speculating
                new Case("long, speculating", prompt(300, 1), 3, 3, true),
                // prefilled positions one past a part: a part of one
                new Case("one past a part, target-only", prompt(part + 2, 2), 0, 0, true),
                new Case("one part exactly, top 5", prompt(part + 1, 3), 2, 5, true),
                // nothing predicts a one-token prompt's only token: no entries
                new Case("one token", new int[] {1}, 0, 2, true),
                // requests without echo share the forwards
                new Case("no echo, speculating", prompt(200, 4), 3, 1, false),
                new Case("no echo, no logprobs", prompt(40, 5), 0, -1, false));
        List<TestProbe<RequestActor.Event>> probes = new ArrayList<>();
        Runnable[] starts = new Runnable[cases.size()];
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            TestProbe<RequestActor.Event> probe = KIT.createTestProbe();
            probes.add(probe);
            RequestActor.Setup setup = RequestActor.Setup.targetOnly(name + "-" + i, request(c.prompt(), c.k(),
                    c.top(), c.echo()), target.config().eosTokenId(), CONTEXT, targetActor, Duration.ofSeconds(5),
                    probe.getRef());
            starts[i] = () -> KIT.spawn(RequestActor.create(c.k() > 0
                    ? setup.withDraft(draftActor, "d", CONTEXT, null, null) : setup));
            if (!oneAtATime) {
                starts[i].run();
            }
        }
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            if (oneAtATime) {
                starts[i].run();
            }
            List<RequestActor.Tokens> streamed = new ArrayList<>();
            RequestActor.Finished finished = null;
            while (finished == null) {
                RequestActor.Event e = probes.get(i).receiveMessage(Duration.ofSeconds(60));
                if (e instanceof RequestActor.Tokens t) {
                    streamed.add(t);
                } else {
                    finished = (RequestActor.Finished) e;
                }
            }
            assertNull(finished.problem(), c.name() + ": " + finished.problem());
            GenerationResult r = finished.result();
            // echo changes only what is reported: the tokens are target-only decoding's without it
            assertArrayEquals(plain(request(c.prompt(), 0, -1, false)), r.tokens(), c.name());
            if (!c.echo()) {
                assertNull(r.promptLogprobs(), c.name());
                streamed.forEach(t -> assertNull(t.promptLogprobs(), c.name()));
                continue;
            }
            List<TokenLogprob> expected = c.prompt().length == 1 ? List.of() : reference(c.prompt(), c.top());
            assertSameEntries(expected, r.promptLogprobs(), c.name(), tolerance);
            // the stream carries them in parts (one per prefill part), before any token, in order
            List<TokenLogprob> parts = new ArrayList<>();
            int events = 0;
            for (RequestActor.Tokens t : streamed) {
                if (t.promptLogprobs() == null) {
                    break;
                }
                assertEquals(0, t.tokens().length, c.name() + ": a part carries no tokens");
                assertTrue(t.promptLogprobs().size() <= part, c.name() + ": a part of " + t.promptLogprobs().size());
                parts.addAll(t.promptLogprobs());
                events++;
            }
            assertEquals((c.prompt().length - 1 + part - 1) / part, events, c.name() + ": parts");
            assertSameEntries(r.promptLogprobs(), parts, c.name() + ", streamed");
            streamed.subList(events, streamed.size()).forEach(t -> {
                assertNull(t.promptLogprobs(), c.name());
                assertTrue(t.tokens().length > 0, c.name());
            });
            // the one-thread decoder reports the same
            try (KvCachePool pool = target.newCachePool(1)) {
                assertSameEntries(expected, SpeculativeDecoder.targetOnly(target, pool, null)
                        .generate(request(c.prompt(), 0, c.top(), true)).promptLogprobs(), c.name() + ", engine",
                        TOLERANCE);
            }
        }
        TestProbe<TargetActor.Stats> stats = KIT.createTestProbe();
        stats.awaitAssert(() -> {
            targetActor.tell(new TargetActor.GetStats(stats.getRef()));
            assertEquals(0, stats.receiveMessage().openCaches(), "every cache released");
            return null;
        });
    }

    @Test
    void aPrefillWithLogprobsNeedsTheTokenAfterIt() {
        ActorRef<TargetActor.Command> targetActor = KIT.spawn(TargetActor.create(target, 1, 4), "lonely-target",
                DispatcherSelector.fromConfig("osd.target-dispatcher"));
        TestProbe<TargetActor.Opened> opened = KIT.createTestProbe();
        TestProbe<TargetActor.Scored> scored = KIT.createTestProbe();
        targetActor.tell(new TargetActor.Open("r", opened.getRef(), opened.getRef()));
        assertTrue(opened.receiveMessage().accepted());
        targetActor.tell(TargetActor.Score.prefillWithLogprobs("r", 0, new int[] {1, 5, 7}, 64, 2, scored.getRef()));
        TargetActor.Scored refused = scored.receiveMessage();
        assertNotNull(refused.problem());
        assertTrue(refused.problem().contains("token after it"), refused.problem());
        // the same part with its next token: one entry per fed position, of the token that follows it
        targetActor.tell(TargetActor.Score.prefillWithLogprobs("r", 0, new int[] {1, 5, 7}, 9, 2, scored.getRef()));
        TargetActor.Scored answer = scored.receiveMessage();
        assertNull(answer.problem());
        assertEquals(0, answer.tokens().length);
        assertSameEntries(reference(new int[] {1, 5, 7, 9}, 2), answer.logprobs(), "one part", TOLERANCE);
    }
}
