package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.engine.FinishReason;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import dev.osd.engine.SamplingParams;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The target's key/value memory is a budget of blocks shared by its requests: a prompt that finds too few free
 * blocks is answered at once as not fitting (its prompt), a running request that cannot grow is told so (not
 * its prompt), and blocks a request gives back serve the others.
 */
class KvBudgetTest {

    static final LlamaConfig SHAPE = LlamaConfig.builder()
            .setHiddenSize(48).setIntermediateSize(96).setNumHiddenLayers(2).setNumAttentionHeads(4)
            .optNumKeyValueHeads(2).setVocabSize(64).optMaxPositionEmbeddings(128).optBosTokenId(1)
            .optEosTokenId(0).build();
    /** Three blocks of 16 positions (2 layers x keys and values x 16 x 2 heads x 12 x 4 bytes = 6,144 each). */
    static final long BUDGET = 3 * KvCachePool.blockBytes(SHAPE);
    static final Config CONFIG = ConfigFactory.parseString("osd.serving.warm-up-tokens = 0\n"
            + "osd.target.kv-cache-memory = " + BUDGET + "\n").withFallback(ConfigFactory.load());
    static final ActorTestKit KIT = ActorTestKit.create(CONFIG);
    static NDManager manager;
    static LlamaModel target;

    @BeforeAll
    static void model() {
        manager = NDManager.newBaseManager();
        target = LlamaModel.of(LlamaWeights.random(SHAPE, 21, 0.3, manager));
    }

    @AfterAll
    static void close() {
        KIT.shutdownTestKit();
        manager.close();
    }

    private static int[] tokens(int n, int from) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = (from + 3 * i) % SHAPE.vocabSize();
        }
        return t;
    }

    private static void open(ActorRef<TargetActor.Command> actor, String id, TestProbe<Object> owner) {
        TestProbe<TargetActor.Opened> opened = KIT.createTestProbe();
        actor.tell(new TargetActor.Open(id, owner.getRef(), opened.getRef()));
        assertTrue(opened.receiveMessage().accepted());
    }

    private static TargetActor.Scored score(ActorRef<TargetActor.Command> actor, String id, int keep, int[] tokens) {
        TestProbe<TargetActor.Scored> scored = KIT.createTestProbe();
        actor.tell(TargetActor.Score.step(id, keep, tokens, SamplingParams.GREEDY, 0, -1, scored.getRef()));
        return scored.receiveMessage();
    }

    private static TargetActor.Stats stats(ActorRef<TargetActor.Command> actor) {
        TestProbe<TargetActor.Stats> stats = KIT.createTestProbe();
        actor.tell(new TargetActor.GetStats(stats.getRef()));
        return stats.receiveMessage();
    }

    private static RequestActor.Finished generate(ActorRef<TargetActor.Command> actor, String id, int[] prompt,
            int maxTokens) {
        TestProbe<RequestActor.Event> client = KIT.createTestProbe();
        GenerationRequest request = new GenerationRequest(prompt, maxTokens, SamplingParams.GREEDY, null, true, 0);
        KIT.spawn(RequestActor.create(RequestActor.Setup.targetOnly(id, request, SHAPE.eosTokenId(),
                TargetActor.contextLimit(CONFIG, SHAPE), actor, Duration.ofSeconds(5), client.getRef())),
                "request-" + id);
        return client.fishForMessage(Duration.ofSeconds(30), e -> e instanceof RequestActor.Finished
                ? FishingOutcomes.complete() : FishingOutcomes.continueAndIgnore()).stream()
                .map(RequestActor.Finished.class::cast).reduce((a, b) -> b).orElseThrow();
    }

    @Test
    void aRequestThatCannotGrowEndsWithLengthAndOneThatCannotStartIsOverloaded() {
        ActorRef<TargetActor.Command> actor = KIT.spawn(TargetActor.create(target, 8, 4), "target-requests",
                DispatcherSelector.fromConfig("osd.target-dispatcher"));
        TestProbe<Object> owner = KIT.createTestProbe();
        open(actor, "hog", owner);
        assertNotNull(score(actor, "hog", 0, tokens(20, 1)).tokens(), "2 of the 3 blocks");
        // 5 prompt tokens in the last block of 16 positions: the 12th token comes from the logits of the 16th
        // position; feeding it back would need a block nobody has
        RequestActor.Finished grown = generate(actor, "grows", tokens(5, 2), 40);
        assertNull(grown.problem(), "not a failure: the context ended");
        assertEquals(FinishReason.LENGTH, grown.result().finishReason());
        assertEquals(12, grown.result().tokens().length);
        assertEquals(2, stats(actor).usedBlocks(), "its block is back");

        assertNotNull(score(actor, "hog", 20, tokens(12, 3)).tokens(), "the hog fills its second block");
        open(actor, "hog2", owner);
        assertNotNull(score(actor, "hog2", 0, tokens(3, 4)).tokens(), "and another takes the last block");
        RequestActor.Finished refused = generate(actor, "refused", tokens(5, 5), 40);
        assertNotNull(refused.problem());
        assertTrue(refused.problem() instanceof Problem.Overloaded, refused.problem().toString());
        assertTrue(refused.problem().message().contains("key/value memory"), refused.problem().message());
        assertEquals(0, refused.result().tokens().length);
    }

    @Test
    void theBudgetSizesTheBlocksAndCapsTheContext() {
        assertEquals(48, TargetActor.contextLimit(CONFIG, SHAPE), "3 blocks of 16, below the model's 128");
        Config capped = ConfigFactory.parseString("osd.target.max-context = 20").withFallback(CONFIG);
        assertEquals(20, TargetActor.contextLimit(capped, SHAPE));
        Config roomy = ConfigFactory.parseString("osd.target.kv-cache-memory = 1 GiB").withFallback(CONFIG);
        assertEquals(128, TargetActor.contextLimit(roomy, SHAPE), "the model's own context");
    }

    @Test
    void promptsThatFindNoBlocksAreRefusedAndARequestThatCannotGrowIsToldSo() {
        ActorRef<TargetActor.Command> actor = KIT.spawn(TargetActor.create(target, 8, 4), "target-budget",
                DispatcherSelector.fromConfig("osd.target-dispatcher"));
        assertEquals(3, stats(actor).totalBlocks());
        TestProbe<Object> owner = KIT.createTestProbe();
        open(actor, "a", owner);
        open(actor, "b", owner);
        open(actor, "c", owner);
        assertNotNull(score(actor, "a", 0, tokens(20, 1)).tokens(), "a: 2 blocks");
        assertNotNull(score(actor, "b", 0, tokens(10, 2)).tokens(), "b: the last block");
        assertEquals(3, stats(actor).usedBlocks());

        TargetActor.Scored refused = score(actor, "c", 0, tokens(5, 3));
        assertNull(refused.tokens());
        assertNotNull(refused.cacheFull(), refused.problem());
        assertTrue(refused.cacheFull().prompt());
        assertEquals(1, refused.cacheFull().needed());
        assertEquals(0, refused.cacheFull().free());
        assertTrue(refused.problem().contains("0 of 3 blocks free"), refused.problem());

        // a grows inside its second block, then needs a third that nobody has
        assertNotNull(score(actor, "a", 20, tokens(12, 4)).tokens());
        TargetActor.Scored full = score(actor, "a", 32, tokens(1, 5));
        assertNull(full.tokens());
        assertNotNull(full.cacheFull());
        assertFalse(full.cacheFull().prompt(), "a running request's growth");
        assertTrue(full.problem().contains("growing to 33 positions"), full.problem());

        // b's end gives its block back: a grows, and c's prompt fits after a rolls back past a boundary
        actor.tell(new TargetActor.Close("b"));
        assertNotNull(score(actor, "a", 32, tokens(1, 5)).tokens());
        assertEquals(3, stats(actor).usedBlocks());
        assertNotNull(score(actor, "a", 16, tokens(1, 6)).tokens(), "rollback to 17 positions: 2 blocks");
        assertNotNull(score(actor, "c", 0, tokens(5, 3)).tokens());
        assertEquals(3, stats(actor).usedBlocks());
        actor.tell(new TargetActor.Close("a"));
        actor.tell(new TargetActor.Close("c"));
        assertEquals(0, stats(actor).usedBlocks());
    }
}
