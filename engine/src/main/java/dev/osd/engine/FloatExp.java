package dev.osd.engine;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * exp(x) in float from IEEE operations that are exact by definition (fused multiply-add, multiply, add, bit
 * moves), in a vector form and a scalar form that give the same bits. The Vector API's own {@code EXP} is not
 * that: compiled, it calls a vendor math stub, interpreted or in C1 it calls {@code Math.exp}, and the two
 * differ in the last bit — so a softmax or SiLU computed before the JIT compiled a forward differs from the same
 * computed after, and lanes in the vector part differ from the scalar tail. The serving forward must give the
 * same result for a row whatever else is in the batch and whenever it runs.
 *
 * <p>Range reduction x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two parts), Cephes' degree-6 polynomial for
 * exp(r) (relative error about 1e-7), and 2^n written into the exponent bits. Inputs are clamped to
 * [-87.3, 88.3], where 2^n stays a normal float: exp(-87.3) ≈ 1.2e-38 stands in for anything smaller.
 */
final class FloatExp {

    private static final float LO = -87.3f;
    private static final float HI = 88.3f;
    private static final float LOG2E = 1.44269504088896341f;
    // 1.5 · 2^23: adding it rounds to an integer in the last bit
    private static final float ROUND = 12582912f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    private FloatExp() {
    }

    static float exp(float x) {
        x = Math.min(Math.max(x, LO), HI);
        float t = Math.fma(x, LOG2E, ROUND);
        float n = t - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(P0, r, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = Math.fma(p, r * r, r) + 1f;
        // t's low mantissa bits hold n (ROUND's are zero there): (bits(t) + 127) << 23 are 2^n's bits
        return y * Float.intBitsToFloat((Float.floatToRawIntBits(t) + 127) << 23);
    }

    static FloatVector exp(FloatVector x) {
        x = x.max(LO).min(HI);
        FloatVector t = x.fma(LOG2E, ROUND);
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(broadcast(x, -LN2_HI), x);
        r = n.fma(broadcast(x, -LN2_LO), r);
        FloatVector p = r.fma(P0, P1);
        p = p.fma(r, broadcast(x, P2));
        p = p.fma(r, broadcast(x, P3));
        p = p.fma(r, broadcast(x, P4));
        p = p.fma(r, broadcast(x, P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        IntVector bits = ((IntVector) t.reinterpretAsInts()).add(127).lanewise(VectorOperators.LSHL, 23);
        return y.mul(bits.reinterpretAsFloats());
    }

    private static FloatVector broadcast(FloatVector like, float c) {
        return FloatVector.broadcast(like.species(), c);
    }
}
