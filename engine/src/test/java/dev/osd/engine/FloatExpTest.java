package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The forward's exp: the vector and scalar forms give the same bits for every input (so a lane's value does not
 * depend on whether it falls in a vector or in the tail, nor on the JIT tier that runs it), within a few
 * parts in 10^7 of exp, and at the ends of its range neither overflows nor underflows.
 */
class FloatExpTest {

    @Test
    void vectorAndScalarFormsAgreeBitForBitAndAreAccurate() {
        SplittableRandom random = new SplittableRandom(7);
        float[] x = new float[WeightMatrix.F.length()];
        double worst = 0;
        // enough rounds for the loop to run interpreted, then compiled
        for (int round = 0; round < 200_000; round++) {
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (round % 3 == 0 ? random.nextDouble(-90, 90) : random.nextDouble(-12, 3));
            }
            float[] v = new float[x.length];
            FloatExp.exp(FloatVector.fromArray(WeightMatrix.F, x, 0)).intoArray(v, 0);
            for (int i = 0; i < x.length; i++) {
                float s = FloatExp.exp(x[i]);
                assertEquals(Float.floatToIntBits(s), Float.floatToIntBits(v[i]), "exp(" + x[i] + ")");
                if (x[i] > -87 && x[i] < 88) {
                    worst = Math.max(worst, Math.abs(s / Math.exp(x[i]) - 1));
                }
            }
        }
        assertTrue(worst < 4e-7, "relative error " + worst);
    }

    @Test
    void theEndsOfTheRangeStayFinite() {
        assertTrue(FloatExp.exp(-1000f) > 0 && FloatExp.exp(-1000f) < 1e-37f);
        assertTrue(Float.isFinite(FloatExp.exp(1000f)) && FloatExp.exp(1000f) > 1e38f);
        assertEquals(1f, FloatExp.exp(0f));
        assertTrue(Float.isNaN(FloatExp.exp(Float.NaN)));
    }
}
