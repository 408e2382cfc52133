package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SpeculationStatsTest {

    private static Verification round(int k, int accepted) {
        return new Verification(k, accepted, new int[accepted + 1], new double[k]);
    }

    @Test
    void tokenAcceptanceCountsJudgedPositionsAndTheRateCountsProposals() {
        SpeculationStats s = new SpeculationStats();
        s.record(round(5, 2)); // accepted, accepted, rejected; two more discarded unjudged
        s.record(round(5, 5)); // all five accepted
        s.record(round(5, 0)); // the first rejected
        assertEquals(7.0 / 15, s.acceptanceRate(), 1e-12);
        assertEquals(7.0 / (7 + 2), s.tokenAcceptance(), 1e-12);
        assertEquals(2, s.rejections());
        assertEquals(1 + 7.0 / 3, s.meanAcceptanceLength(), 1e-12);
    }
}
