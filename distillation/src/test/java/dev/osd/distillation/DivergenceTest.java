package dev.osd.distillation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DivergenceTest {

    private static final List<Divergence> ALL = List.of(Divergence.forwardKl(), Divergence.reverseKl(),
            Divergence.jensenShannon(0.5), Divergence.jensenShannon(0.3), Divergence.totalVariation());

    // p = (0.5, 0.3, 0.2), q = (0.2, 0.5, 0.3), by hand:
    // FKL = .5 ln 2.5 + .3 ln .6 + .2 ln(2/3) = 0.458145 - 0.153248 - 0.081093
    // RKL = .2 ln .4 + .5 ln(5/3) + .3 ln 1.5 = -0.183258 + 0.255413 + 0.121640
    // JSD(.5): m = (.35, .4, .25): .5(.5 ln(.5/.35) + .3 ln(.3/.4) + .2 ln(.2/.25)) + .5(.2 ln(.2/.35) + .5 ln(.5/.4) + .3 ln(.3/.25))
    // JSD(.3): m = .3p + .7q = (.29, .44, .27), weights .3 and .7
    // TVD = .5(.3 + .2 + .1)
    private static final double[] EXPECTED = {0.2238047, 0.1937942, 0.0508746, 0.0440820, 0.3};

    @Test
    void matchesHandComputedValuesOnFullAndTopNTargets() {
        try (NDManager m = NDManager.newBaseManager()) {
            // full: vocabulary of 3, logits = log q
            NDArray fullLogits = m.create(new double[] {Math.log(0.2), Math.log(0.5), Math.log(0.3)}, new Shape(1, 3));
            NDArray fullP = m.create(new double[] {0.5, 0.3, 0.2, 0}, new Shape(1, 4));
            NDArray fullSupport = m.ones(new Shape(1, 3), ai.djl.ndarray.types.DataType.FLOAT64);
            // top 2 of a vocabulary of 4: tokens 0 and 1 kept, rest 0.2; q = (.2, .5, .1, .2) puts .3 in the rest
            NDArray topLogits = m.create(new double[] {Math.log(0.2), Math.log(0.5), Math.log(0.1), Math.log(0.2)},
                    new Shape(1, 4));
            NDArray topP = m.create(new double[] {0.5, 0.3, 0, 0, 0.2}, new Shape(1, 5));
            NDArray topSupport = m.create(new double[] {1, 1, 0, 0}, new Shape(1, 4));
            for (int i = 0; i < ALL.size(); i++) {
                Divergence d = ALL.get(i);
                assertEquals(EXPECTED[i], d.mean(fullLogits, fullP, fullSupport).getDouble(), 1e-6, d + " full");
                assertEquals(EXPECTED[i], d.mean(topLogits, topP, topSupport).getDouble(), 1e-6, d + " top-N");
            }
        }
    }

    @Test
    void zeroWhenTheDistributionsAgree() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray logits = m.create(new double[] {0.1, 2.0, -1.0}, new Shape(1, 3));
            NDArray q = logits.softmax(-1);
            NDArray p = q.concat(m.zeros(new Shape(1, 1), q.getDataType()), -1);
            for (Divergence d : ALL) {
                assertEquals(0, d.mean(logits, p, logits.onesLike()).getDouble(), 1e-9, d.name());
            }
        }
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        SplittableRandom random = new SplittableRandom(3);
        int rows = 3;
        int vocab = 6;
        double[] logits = new double[rows * vocab];
        double[] p = new double[rows * (vocab + 1)];
        double[] support = new double[rows * vocab];
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int v = 0; v < vocab; v++) {
                logits[r * vocab + v] = random.nextGaussian();
                // row 0 keeps every token; rows 1 and 2 keep the first four and a rest bucket
                boolean kept = r == 0 || v < 4;
                support[r * vocab + v] = kept ? 1 : 0;
                double x = random.nextDouble() + 0.05;
                p[r * (vocab + 1) + (kept ? v : vocab)] += x;
                sum += x;
            }
            for (int v = 0; v <= vocab; v++) {
                p[r * (vocab + 1) + v] /= sum;
            }
        }
        for (Divergence d : ALL) {
            double[] analytic = gradient(d, logits, p, support, rows, vocab);
            double h = 1e-6;
            for (int i = 0; i < logits.length; i++) {
                double[] plus = logits.clone();
                double[] minus = logits.clone();
                plus[i] += h;
                minus[i] -= h;
                double numeric = (value(d, plus, p, support, rows, vocab) - value(d, minus, p, support, rows, vocab))
                        / (2 * h);
                assertEquals(numeric, analytic[i], 1e-6, d + " d/dlogit[" + i + "]");
            }
            assertTrue(java.util.Arrays.stream(analytic).anyMatch(g -> Math.abs(g) > 1e-3), d + " has a gradient");
        }
    }

    private static double value(Divergence d, double[] logits, double[] p, double[] support, int rows, int vocab) {
        try (NDManager m = NDManager.newBaseManager()) {
            return d.mean(m.create(logits, new Shape(rows, vocab)), m.create(p, new Shape(rows, vocab + 1)),
                    m.create(support, new Shape(rows, vocab))).getDouble();
        }
    }

    private static double[] gradient(Divergence d, double[] logits, double[] p, double[] support, int rows,
            int vocab) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(logits, new Shape(rows, vocab));
            x.setRequiresGradient(true);
            try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
                NDArray loss = d.mean(x, m.create(p, new Shape(rows, vocab + 1)), m.create(support, new Shape(rows, vocab)));
                c.backward(loss);
            }
            return x.getGradient().toDoubleArray();
        }
    }

    @Test
    void parsesNamesAndRefusesUnknownOnes() {
        assertEquals("fkl", Divergence.parse("FKL").name());
        assertEquals("jsd", Divergence.parse("jsd").name());
        assertEquals("jsd:0.2", Divergence.parse("jsd:0.2").name());
        assertEquals("tvd", Divergence.parse("tvd").name());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Divergence.parse("l2")).getMessage()
                .contains("fkl, rkl, jsd"));
        assertThrows(IllegalArgumentException.class, () -> Divergence.parse("jsd:1.5"));
    }
}
