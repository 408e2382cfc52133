package dev.osd.engine;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The bfloat16 kernels on their own: 24 random matrices of 5632 x 2048 (the 1.1B shape's MLP, 0.55 GB, far past
 * the L3, as in a real decode), 1 to 8 input rows per product, best of 4 passes. Not a test: run by hand, e.g.
 * {@code flock /tmp/osd-cpu.lock java --add-modules jdk.incubator.vector -Xmx2g -cp
 * engine/target/classes:engine/target/test-classes dev.osd.engine.KernelBench}.
 */
public final class KernelBench {

    private KernelBench() {
    }

    public static void main(String[] args) {
        int rows = 5632;
        int cols = 2048;
        int mats = 24;
        SplittableRandom random = new SplittableRandom(1);
        WeightMatrix[] m = new WeightMatrix[mats];
        for (int k = 0; k < mats; k++) {
            short[] bits = new short[rows * cols];
            for (int i = 0; i < bits.length; i++) {
                bits[i] = SafeTensors.toBfloat16((float) (random.nextGaussian() * 0.02));
            }
            m[k] = WeightMatrix.ofBits(bits, rows, cols, WeightMatrix.Storage.BF16);
        }
        float[] x = new float[8 * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        float[] out = new float[8 * rows];
        // 1 and 6 first and twice: the JIT's first compilations settle
        for (int n : new int[] {1, 6, 1, 6, 2, 3, 4, 5, 7, 8}) {
            for (int warm = 0; warm < 2; warm++) {
                for (WeightMatrix w : m) {
                    w.multiply(x, 0, n, out, 0, rows);
                }
            }
            long best = Long.MAX_VALUE;
            for (int rep = 0; rep < 4; rep++) {
                long start = System.nanoTime();
                for (WeightMatrix w : m) {
                    w.multiply(x, 0, n, out, 0, rows);
                }
                best = Math.min(best, System.nanoTime() - start);
            }
            double s = best / 1e9;
            double weights = (double) rows * cols * mats;
            System.out.printf(Locale.ROOT, "rows %d: %.1f ms per pass, %.1f GB/s of weights, %.1f GFLOP/s%n", n,
                    s * 1e3, 2 * weights / s / 1e9, 2 * weights * n / s / 1e9);
        }
    }
}
