package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.engine.DraftSource;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.SamplingParams;
import java.time.Duration;
import java.util.Arrays;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A replica serves rounds of repetitive text from its suffix proposer, and learns from what it served. */
class DraftSuffixTest {

    static final ActorTestKit BOTH = ActorTestKit.create("suffix-both",
            DraftActorTest.config("osd.serving.warm-up-tokens = 0\nosd.draft.suffix.max-tokens = 12"));
    static final ActorTestKit DRAFT_ONLY = ActorTestKit.create("suffix-off",
            DraftActorTest.config("osd.serving.warm-up-tokens = 0\nosd.draft.suffix.proposer = draft"));
    static ServingModels models;

    @BeforeAll
    static void open() {
        models = new ServingModels();
    }

    @AfterAll
    static void close() {
        BOTH.shutdownTestKit();
        DRAFT_ONLY.shutdownTestKit();
        models.close();
    }

    /** 20 distinct tokens, then again, then their first five: text that copies itself. */
    static int[] repetitive(int offset) {
        int[] s = new int[45];
        for (int i = 0; i < s.length; i++) {
            s[i] = offset + (i % 20) * 3;
        }
        return s;
    }

    private static ActorRef<DraftActor.Command> replica(ActorTestKit kit) {
        KvCachePool pool = models.draft.newCachePool(4, 128);
        return kit.spawn(DraftActor.create("d", DraftSource.fixed(models.draft), pool), "draft-"
                + DraftActorTest.NAMES.incrementAndGet(), DraftActorTest.DRAFTS);
    }

    private static DraftActor.Proposed propose(ActorRef<DraftActor.Command> actor, TestProbe<Object> owner,
            TestProbe<DraftActor.Proposed> replies, String id, int[] sequence, int k) {
        actor.tell(new DraftActor.Propose(id, sequence, k, SamplingParams.GREEDY, 7, owner.getRef(),
                replies.getRef()));
        DraftActor.Proposed p = replies.receiveMessage(Duration.ofSeconds(30));
        assertNull(p.problem(), p.problem());
        return p;
    }

    @Test
    void repetitiveTextIsProposedByTheSuffixOneHotAndLongerThanK() {
        ActorRef<DraftActor.Command> actor = replica(BOTH);
        TestProbe<Object> owner = BOTH.createTestProbe();
        TestProbe<DraftActor.Proposed> replies = BOTH.createTestProbe();
        int[] seq = repetitive(4);
        int rounds = 0;
        int bySuffix = 0;
        // the target (here: the text itself) accepts what continues the pattern; six rounds
        while (rounds < 6) {
            DraftActor.Proposed p = propose(actor, owner, replies, "r", seq, 3);
            rounds++;
            int at = seq.length;
            if (p.proposer().equals("suffix")) {
                bySuffix++;
                assertTrue(p.tokens().length > 3, "a suffix match goes past k: " + p.tokens().length);
                assertTrue(p.tokens().length <= 12, "at most osd.draft.suffix.max-tokens");
                for (int i = 0; i < p.tokens().length; i++) {
                    assertEquals(4 + ((at + i) % 20) * 3, p.tokens()[i], "the pattern's next token " + i);
                    assertEquals(1.0, p.q()[i].probability(p.tokens()[i]), "one-hot q");
                    assertEquals(1, p.q()[i].ids().length, "one-hot q");
                }
            }
            int accepted = 0;
            while (accepted < p.tokens().length && p.tokens()[accepted] == 4 + ((at + accepted) % 20) * 3) {
                accepted++;
            }
            seq = Arrays.copyOf(seq, at + accepted + 1);
            for (int i = at; i < seq.length; i++) {
                seq[i] = 4 + (i % 20) * 3;
            }
        }
        assertTrue(bySuffix >= 5, "the suffix served " + bySuffix + " of 6 rounds (one in 24 explores the draft)");
        actor.tell(new DraftActor.Release("r"));
    }

    @Test
    void aServedSequenceIsProposedToTheNextRequestThatStartsLikeIt() {
        ActorRef<DraftActor.Command> actor = replica(BOTH);
        TestProbe<Object> owner = BOTH.createTestProbe();
        TestProbe<DraftActor.Proposed> replies = BOTH.createTestProbe();
        int[] served = new int[40];
        for (int i = 0; i < served.length; i++) {
            served[i] = 2 + (i * 37 + i * i) % 61; // nothing in it repeats within itself
        }
        propose(actor, owner, replies, "a", served, 2);
        actor.tell(new DraftActor.Release("a"));
        int[] next = Arrays.copyOf(served, 20);
        DraftActor.Proposed p = propose(actor, owner, replies, "b", next, 2);
        assertEquals("suffix", p.proposer());
        assertArrayEquals(Arrays.copyOfRange(served, 20, 20 + p.tokens().length), p.tokens(),
                "what followed in the served sequence");
    }

    @Test
    void withTheDraftProposerAloneTheModelProposes() {
        ActorRef<DraftActor.Command> actor = replica(DRAFT_ONLY);
        TestProbe<Object> owner = DRAFT_ONLY.createTestProbe();
        TestProbe<DraftActor.Proposed> replies = DRAFT_ONLY.createTestProbe();
        DraftActor.Proposed p = propose(actor, owner, replies, "r", repetitive(4), 3);
        assertEquals("draft", p.proposer());
        assertEquals(3, p.tokens().length);
    }
}
