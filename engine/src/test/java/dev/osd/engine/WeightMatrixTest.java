package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Each kernel of {@link WeightMatrix} against a plain scalar product, for every storage and row count. */
class WeightMatrixTest {

    @Test
    void everyStorageAndRowCountEqualsTheScalarProduct() {
        SplittableRandom random = new SplittableRandom(3);
        for (int cols : new int[] {40, 64, 160}) { // 40: a tail past the last whole vector
            int rows = 37; // not a multiple of the output blocking
            float[] values = new float[rows * cols];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) random.nextGaussian();
            }
            for (WeightMatrix.Storage storage : WeightMatrix.Storage.values()) {
                float[] stored = representable(values, storage);
                WeightMatrix m = WeightMatrix.of(stored, rows, cols, storage);
                assertEquals(storage, m.storage);
                for (int n = 1; n <= 9; n++) {
                    float[] x = new float[3 + n * cols];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = (float) random.nextGaussian();
                    }
                    int stride = rows + 5;
                    float[] out = new float[2 + n * stride];
                    m.multiply(x, 3, n, out, 2, stride);
                    for (int r = 0; r < n; r++) {
                        for (int o = 0; o < rows; o++) {
                            double expected = 0;
                            for (int i = 0; i < cols; i++) {
                                expected += (double) stored[o * cols + i] * x[3 + r * cols + i];
                            }
                            assertEquals(expected, out[2 + r * stride + o], 1e-4 * Math.sqrt(cols),
                                    storage + " rows " + n + " cols " + cols + " at (" + r + ", " + o + ")");
                        }
                    }
                }
            }
        }
    }

    @Test
    void aRowGivesTheSameBitsWhateverItIsBatchedWith() {
        SplittableRandom random = new SplittableRandom(9);
        int rows = 50;
        int cols = 96;
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = SafeTensors.halfToFloat(SafeTensors.floatToHalf((float) random.nextGaussian()));
        }
        for (WeightMatrix.Storage storage : WeightMatrix.Storage.values()) {
            float[] stored = representable(values, storage);
            WeightMatrix m = WeightMatrix.of(stored, rows, cols, storage);
            // 13 = 8 + 5; 4, 6, 7: the register-blocked bfloat16 kernels, 50 outputs not a multiple of 4 or 3
            for (int n : new int[] {13, 4, 6, 7}) {
                float[] x = new float[n * cols];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) random.nextGaussian();
                }
                float[] batched = new float[n * rows];
                m.multiply(x, 0, n, batched, 0, rows);
                for (int r = 0; r < n; r++) {
                    float[] alone = new float[rows];
                    m.multiply(x, r * cols, 1, alone, 0, rows);
                    for (int o = 0; o < rows; o++) {
                        assertEquals(Float.floatToRawIntBits(alone[o]), Float.floatToRawIntBits(batched[r * rows + o]),
                                storage + " rows " + n + ": row " + r + " output " + o);
                    }
                }
            }
        }
    }

    @Test
    void aProductSplitOverThreadsEqualsOneThread() {
        // the test JVM runs with osd.engine.threads=2 (pom.xml): a product this large is split
        assertTrue(ForwardThreads.THREADS > 1 && ForwardThreads.worthSplitting(1024L * 1024 * 3));
        SplittableRandom random = new SplittableRandom(5);
        int rows = 1030;
        int cols = 1024;
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = SafeTensors.halfToFloat(SafeTensors.floatToHalf((float) random.nextGaussian()));
        }
        WeightMatrix m = WeightMatrix.of(values, rows, cols);
        float[] x = new float[3 * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        float[] out = new float[3 * rows];
        m.multiply(x, 0, 3, out, 0, rows);
        for (int r = 0; r < 3; r++) {
            for (int o = 0; o < rows; o += 7) {
                double expected = 0;
                for (int i = 0; i < cols; i++) {
                    expected += (double) values[o * cols + i] * x[r * cols + i];
                }
                assertEquals(expected, out[r * rows + o], 1e-3, "row " + r + " output " + o);
            }
        }
    }

    @Test
    void aThreadCountThatIsNotAPositiveIntegerIsRefused() {
        assertEquals(1, ForwardThreads.threads(null));
        assertEquals(3, ForwardThreads.threads(" 3 "));
        for (String bad : new String[] {"0", "-2", "two", "1.5"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ForwardThreads.threads(bad));
            assertTrue(e.getMessage().contains("osd.engine.threads") && e.getMessage().contains(bad), e.getMessage());
        }
    }

    @Test
    void keepsTheNarrowestExactStorage() {
        float[] halves = {1f, -2.5f, 0.000061035156f, 5.9604645e-8f /* a float16 subnormal */, 65504f, -0f};
        WeightMatrix h = WeightMatrix.of(halves, 2, 3);
        assertEquals(WeightMatrix.Storage.F16, h.storage);
        for (int i = 0; i < halves.length; i++) {
            assertEquals(Float.floatToRawIntBits(halves[i]), Float.floatToRawIntBits(h.get(i / 3, i % 3)));
        }
        assertEquals(WeightMatrix.Storage.BF16, WeightMatrix.of(new float[] {1f, 3.140625f, -0x1p100f, 0f}, 2, 2).storage);
        assertEquals(WeightMatrix.Storage.F32, WeightMatrix.of(new float[] {0.1f, 1f}, 1, 2).storage);
        assertThrows(IllegalArgumentException.class, () -> WeightMatrix.of(new float[] {0.1f}, 1, 1,
                WeightMatrix.Storage.F16));
    }

    private static float[] representable(float[] values, WeightMatrix.Storage storage) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = switch (storage) {
                case F32 -> values[i];
                case F16 -> SafeTensors.halfToFloat(SafeTensors.floatToHalf(values[i]));
                case BF16 -> Float.intBitsToFloat(SafeTensors.toBfloat16(values[i]) << 16);
            };
        }
        return out;
    }
}
