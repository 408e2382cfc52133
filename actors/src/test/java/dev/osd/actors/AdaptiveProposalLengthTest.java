package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class AdaptiveProposalLengthTest {

    /** Simulates rounds of a draft whose proposals are each accepted with probability alpha. */
    private static void serve(AdaptiveProposalLength k, double alpha, int rounds, SplittableRandom random) {
        for (int r = 0; r < rounds; r++) {
            int proposed = k.next();
            int accepted = 0;
            while (accepted < proposed && random.nextDouble() < alpha) {
                accepted++;
            }
            k.observe(proposed, accepted);
        }
    }

    @Test
    void movesTowardTheBestLengthForTheMeasuredAcceptance() {
        SplittableRandom random = new SplittableRandom(3);
        // the paper's table: at α = 0.6 the best k is 4 for c = 0.05 and 3 for c = 0.1
        AdaptiveProposalLength k = new AdaptiveProposalLength(1, 8, 0.1, 0.05, 0.02);
        assertEquals(1, k.next(), "a draft believed poor proposes little");
        serve(k, 0.6, 3000, random);
        assertEquals(0.6, k.alpha(), 0.06);
        assertTrue(k.next() >= 3 && k.next() <= 5, "k = " + k.next());
        // the draft learns: longer proposals pay
        serve(k, 0.9, 3000, random);
        assertTrue(k.next() >= 7, "k = " + k.next());
        // it degrades: back to short proposals
        serve(k, 0.2, 3000, random);
        assertTrue(k.next() <= 2, "k = " + k.next());
    }

    @Test
    void aCostlierDraftGetsShorterProposals() {
        AdaptiveProposalLength cheap = new AdaptiveProposalLength(1, 10, 0.6, 0.01, 0.05);
        AdaptiveProposalLength dear = new AdaptiveProposalLength(1, 10, 0.6, 0.1, 0.05);
        assertEquals(7, cheap.next());
        assertEquals(3, dear.next());
        assertThrows(IllegalArgumentException.class, () -> new AdaptiveProposalLength(3, 2, 0.5, 0.1, 0.1));
    }

    @Test
    void theCostRatioFollowsWhatRoundsCost() {
        AdaptiveProposalLength k = new AdaptiveProposalLength(1, 10, 0.6, 0.3, 0.05);
        assertEquals(1, k.next(), "a dear draft (start-up guess c = 0.3)");
        for (int i = 0; i < 200; i++) {
            k.observeCost(0.2, 20.0); // 0.2 ms per draft token, 20 ms per verification: c = 0.01
        }
        assertEquals(0.01, k.costRatio(), 1e-3);
        assertEquals(7, k.next(), "measured cheap: longer proposals");
    }

    @Test
    void verificationThatGrowsWithRowsShortensProposals() {
        // the same draft and acceptance: verification that costs 0.4x one row more per row (a CPU target)
        // pays off at a shorter k than verification that costs the same whatever the rows
        AdaptiveProposalLength flat = new AdaptiveProposalLength(1, 10, 0.8, 0.05, 0.05, 0);
        AdaptiveProposalLength growing = new AdaptiveProposalLength(1, 10, 0.8, 0.05, 0.05, 0.4);
        assertTrue(growing.next() < flat.next(), growing.next() + " vs " + flat.next());
        // measured: 1 ms for one row, 3 ms for six; the draft 0.05 ms per token
        AdaptiveProposalLength k = new AdaptiveProposalLength(1, 10, 0.8, 0.05, 0.2, 0);
        for (int i = 0; i < 50; i++) {
            k.observeCost(0.05, 1.0, 1);
            k.observeCost(0.05, 3.0, 6);
        }
        assertEquals(3.0, k.verificationCost(6), 1e-6);
        assertEquals(1.0, k.verificationCost(1), 1e-6);
        assertEquals(0.05, k.costRatio(), 1e-3);
        // unmeasured row counts lie on the line through the measured ones: 1 + 0.4 (r - 1)
        assertEquals(2.2, k.verificationCost(4), 1e-6);
        int chosen = k.next();
        double best = k.rate(chosen);
        for (int j = 1; j <= 10; j++) {
            assertTrue(k.rate(j) <= best + 1e-12);
        }
    }

    @Test
    void servingTriesTheNeighboursNowAndThen() {
        AdaptiveProposalLength k = new AdaptiveProposalLength(1, 8, 0.7, 0.05, 0.05, 0.2);
        int best = k.next();
        Set<Integer> tried = new TreeSet<>();
        for (int i = 0; i < 64; i++) {
            tried.add(k.nextToServe());
        }
        assertEquals(Set.of(best - 1, best, best + 1), tried);
    }
}
