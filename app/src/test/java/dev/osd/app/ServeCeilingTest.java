package dev.osd.app;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The forward-cost ceiling that bench serve prints next to each measured speedup. */
class ServeCeilingTest {

    @Test
    void theCeilingIsTokensPerRoundOverWhatARoundCosts() {
        // V(1) = 1 ms, V(2) = 1.4, V(3) = 1.8, V(4) = 2.2; a draft row costs 0.1 ms
        ServeBenchmark.ForwardCosts costs = new ServeBenchmark.ForwardCosts(new double[] {0, 1, 1.4, 1.8, 2.2}, 0.1);
        // acceptance rate 0.5 and 1.5 tokens per round: k = 1 proposal per round, a round costs 0.1 + 1.4 ms
        assertEquals(1.5 / 1.5, costs.ceiling(0.5, 1.5), 1e-9);
        // 3 tokens per round at acceptance 1: k = 2, round = 0.2 + 1.8 ms
        assertEquals(3.0 / 2.0, costs.ceiling(1.0, 3.0), 1e-9);
        // a fractional k interpolates V: k = 1.5 -> V = 1.6, round = 0.15 + 1.6
        assertEquals(2.5 / 1.75, costs.ceiling(1.0, 2.5), 1e-9);
        assertEquals(1.0, costs.ceiling(0, 1.0), 1e-9, "no speculation: no gain");
    }
}
