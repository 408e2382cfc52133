package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SuffixIndexTest {

    private static int order(int n) {
        for (int o = 0; o < SuffixIndex.ORDERS.length; o++) {
            if (SuffixIndex.ORDERS[o] == n) {
                return o;
            }
        }
        throw new IllegalArgumentException("no order " + n);
    }

    @Test
    void findsWhatFollowedAnNgramMostRecentFirstAndStopsAtTheSequenceEnd() {
        SuffixIndex index = new SuffixIndex(1024);
        index.add(new int[] {5, 6, 7, 8, 9, 10});
        index.add(new int[] {1, 6, 7, 3, 4});
        List<int[]> c = index.continuations(new int[] {2, 2, 6, 7}, order(2), 8, 8);
        assertEquals(2, c.size());
        assertArrayEquals(new int[] {3, 4}, c.get(0), "the most recent occurrence first, cut at its sequence's end");
        assertArrayEquals(new int[] {8, 9, 10}, c.get(1));
        assertArrayEquals(new int[] {8, 9}, index.continuations(new int[] {5, 6, 7}, order(3), 2, 8).get(0));
        assertTrue(index.continuations(new int[] {9, 6, 7}, order(3), 8, 8).isEmpty(), "no 3-gram 9 6 7 was served");
        assertTrue(index.continuations(new int[] {10, 1}, order(2), 8, 8).isEmpty(),
                "n-grams never span two sequences");
    }

    @Test
    void holdsAtMostItsCapacityAndForgetsTheOldest() {
        SuffixIndex index = new SuffixIndex(64);
        long bytes = index.memoryBytes();
        index.add(new int[] {100, 101, 102, 103, 104});
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 200; i++) {
            int[] s = new int[1 + r.nextInt(20)];
            for (int j = 0; j < s.length; j++) {
                s[j] = 200 + r.nextInt(50);
            }
            index.add(s);
            assertTrue(index.tokensHeld() <= 64);
        }
        assertEquals(64, index.tokensHeld());
        assertEquals(bytes, index.memoryBytes(), "memory is fixed when the index is made");
        assertTrue(index.continuations(new int[] {100, 101}, order(2), 4, 8).isEmpty(), "evicted text is not proposed");
        int[] last = {7, 8, 9, 10, 11, 12};
        index.add(last);
        assertArrayEquals(new int[] {10, 11, 12}, index.continuations(new int[] {7, 8, 9}, order(3), 8, 8).get(0));
    }

    @Test
    void memoryGrowsWithTheTokensHeldOnly() {
        long small = new SuffixIndex(1 << 12).memoryBytes();
        long large = new SuffixIndex(1 << 16).memoryBytes();
        assertEquals(16.0, (double) large / small, 0.5);
        assertTrue(large / (1 << 16) <= 100, "bytes a token " + large / (1 << 16));
    }

    @Test
    void proposesTheLongestMatchInTheRequestsOwnSequence() {
        SuffixProposer p = new SuffixProposer(SuffixProposer.Mode.SUFFIX, 256, 16);
        // prompt lookup: the tail "3 4 5" occurred earlier in the sequence itself
        int[] seq = {1, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5};
        SuffixProposer.Choice c = p.next("r", seq, 4, 100, 0);
        assertEquals(SuffixProposer.Kind.SUFFIX, c.kind());
        assertTrue(c.suffix().length >= 1);
        assertArrayEquals(java.util.Arrays.copyOf(new int[] {6, 7, 8, 9, 2, 3, 4, 5}, c.suffix().length), c.suffix());
        assertNull(p.longest(new int[] {1, 2, 3}, 8), "nothing repeats, nothing was served");
    }

    @Test
    void votesAmongServedContinuationsAndLearnsFromFinishedSequences() {
        SuffixProposer p = new SuffixProposer(SuffixProposer.Mode.SUFFIX, 4096, 16);
        p.finish("a", new int[] {1, 20, 21, 22, 30, 31});
        p.finish("b", new int[] {1, 20, 21, 22, 40, 41});
        p.finish("c", new int[] {1, 20, 21, 22, 40, 42});
        SuffixProposer.Match m = p.longest(new int[] {9, 20, 21, 22}, 8);
        assertNotNull(m);
        assertEquals(40, m.tokens()[0], "two of three served sequences went on with 40");
        assertEquals(2.0 / 3, m.support()[0], 1e-9);
        assertEquals(1, SuffixIndex.ORDERS[m.order()] == 3 ? 1 : 0, "matched on the 3 tokens 20 21 22");
        assertEquals(0.5, m.support()[1], 1e-9, "41 and 42 split the two that agreed on 40");
    }

    @Test
    void aRoundsOutcomeIsReadFromTheNextSequence() {
        SuffixProposer p = new SuffixProposer(SuffixProposer.Mode.SUFFIX, 4096, 8);
        int[] served = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        for (int i = 0; i < 20; i++) {
            p.finish("old" + i, served);
        }
        double before = p.figures().suffixAcceptance()[p.longest(new int[] {1, 2, 3, 4}, 8).order()];
        for (int r = 0; r < 20; r++) {
            String id = "r" + r;
            SuffixProposer.Choice c = p.next(id, new int[] {1, 2, 3, 4}, 4, 100, 0);
            p.proposed(id, new int[0], 0, 0, 1);
            // the target kept every proposed token, and one of its own
            int[] next = java.util.Arrays.copyOf(served, 4 + c.suffix().length + 1);
            p.next(id, next, 4, 100, 2_000_000);
            p.finish(id, null);
        }
        double after = p.figures().suffixAcceptance()[p.longest(new int[] {1, 2, 3, 4}, 8).order()];
        assertTrue(after > before, "acceptance of 4-token matches rose from " + before + " to " + after);
        assertEquals(1.0, after, 0.05);
    }
}
