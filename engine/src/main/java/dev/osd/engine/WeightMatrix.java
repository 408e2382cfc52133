package dev.osd.engine;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * A (rows, cols) weight matrix of the CPU serving forward, row-major as Hugging Face stores a linear layer's
 * weight (out, in), kept in the narrowest of float32, float16 and bfloat16 that holds every value exactly
 * (so a float16 checkpoint stays float16 in memory and is widened in registers).
 *
 * <p>{@link #multiply} computes {@code out[r][o] = Σ_i W[o][i] · x[r][i]} for several input rows in one pass
 * over the weights: the output rows are cut into tiles small enough to stay in the core's L2 cache, and each
 * tile is applied to up to eight input rows at a time, so a verification of k+1 positions, or a batch of
 * requests, reads each weight from memory once.
 */
final class WeightMatrix {

    enum Storage { F32, F16, BF16 }

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Short> SH =
            VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2)); // L lanes
    /** Input rows that one pass over a weight tile serves (one accumulator register each). */
    static final int MAX_GROUP = 8;
    private static final int L = F.length();
    private static final int TILE_BYTES = 256 * 1024;

    final int rows;
    final int cols;
    final Storage storage;
    private final float[] f32;
    private final short[] half;
    private final int tileRows;
    private final int shift; // widen(): half-precision bits to float32
    private final int mask;
    private final float scale;

    private WeightMatrix(int rows, int cols, Storage storage, float[] f32, short[] half) {
        this.rows = rows;
        this.cols = cols;
        this.storage = storage;
        this.f32 = f32;
        this.half = half;
        int bytesPerRow = cols * (storage == Storage.F32 ? 4 : 2);
        this.tileRows = Math.max(8, TILE_BYTES / Math.max(1, bytesPerRow));
        this.shift = storage == Storage.F16 ? 13 : 16;
        this.mask = storage == Storage.F16 ? 0x8FFFE000 : 0xFFFF0000;
        this.scale = storage == Storage.F16 ? 0x1p112f : 1f;
    }

    /** The matrix of these row-major values, stored in the narrowest exact dtype. */
    static WeightMatrix of(float[] values, int rows, int cols) {
        if ((long) rows * cols != values.length) {
            throw new IllegalArgumentException(rows + " x " + cols + " does not hold " + values.length + " values");
        }
        if (exactly(values, Storage.BF16)) {
            short[] bits = new short[values.length];
            for (int i = 0; i < bits.length; i++) {
                bits[i] = (short) (Float.floatToRawIntBits(values[i]) >>> 16);
            }
            return new WeightMatrix(rows, cols, Storage.BF16, null, bits);
        }
        if (exactly(values, Storage.F16)) {
            short[] bits = new short[values.length];
            for (int i = 0; i < bits.length; i++) {
                bits[i] = SafeTensors.floatToHalf(values[i]);
            }
            return new WeightMatrix(rows, cols, Storage.F16, null, bits);
        }
        return new WeightMatrix(rows, cols, Storage.F32, values.clone(), null);
    }

    /**
     * The matrix of these row-major F16 or BF16 bit patterns as a checkpoint stores them, kept as they are
     * (the array is taken, not copied): a serving model built from stored tensors never widens its weights.
     */
    static WeightMatrix ofBits(short[] bits, int rows, int cols, Storage storage) {
        if ((long) rows * cols != bits.length) {
            throw new IllegalArgumentException(rows + " x " + cols + " does not hold " + bits.length + " values");
        }
        if (storage == Storage.F32) {
            throw new IllegalArgumentException("16-bit patterns are F16 or BF16, not F32");
        }
        return new WeightMatrix(rows, cols, storage, null, bits);
    }

    /** The same values in a given storage (for tests and benchmarks that compare kernels). */
    static WeightMatrix of(float[] values, int rows, int cols, Storage storage) {
        WeightMatrix m = of(values, rows, cols);
        if (m.storage == storage) {
            return m;
        }
        if (storage == Storage.F32) {
            return new WeightMatrix(rows, cols, Storage.F32, values.clone(), null);
        }
        throw new IllegalArgumentException("values are not exactly representable in " + storage);
    }

    private static boolean exactly(float[] values, Storage storage) {
        for (float v : values) {
            int bits = Float.floatToRawIntBits(v);
            boolean ok = storage == Storage.BF16
                    ? (bits & 0xffff) == 0
                    : Float.floatToRawIntBits(SafeTensors.halfToFloat(SafeTensors.floatToHalf(v))) == bits;
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    long bytes() {
        return (long) rows * cols * (storage == Storage.F32 ? 4 : 2);
    }

    float get(int row, int col) {
        int i = row * cols + col;
        return switch (storage) {
            case F32 -> f32[i];
            case F16 -> SafeTensors.halfToFloat(half[i]);
            case BF16 -> Float.intBitsToFloat(half[i] << 16);
        };
    }

    /** Copies one row, widened to float32, into {@code dst} at {@code offset} (an embedding lookup). */
    void row(int row, float[] dst, int offset) {
        for (int c = 0; c < cols; c++) {
            dst[offset + c] = get(row, c);
        }
    }

    /**
     * {@code out[outOffset + r*outStride + o] = Σ_i W[o][i] · x[xOffset + r*cols + i]} for input rows r in
     * [0, n) and every output o.
     */
    void multiply(float[] x, int xOffset, int n, float[] out, int outOffset, int outStride) {
        long work = (long) rows * cols * n;
        if (!ForwardThreads.worthSplitting(work)) {
            multiply(x, xOffset, n, out, outOffset, outStride, 0, rows);
            return;
        }
        ForwardThreads.run((part, parts) -> {
            int per = (rows + parts - 1) / parts;
            multiply(x, xOffset, n, out, outOffset, outStride, part * per, Math.min(rows, (part + 1) * per));
        });
    }

    /** {@link #multiply} for output rows [from, to) only. */
    private void multiply(float[] x, int xOffset, int n, float[] out, int outOffset, int outStride, int from,
            int to) {
        for (int o0 = from; o0 < to; o0 += tileRows) {
            int o1 = Math.min(to, o0 + tileRows);
            int r = 0;
            while (r < n) {
                int group = Math.min(MAX_GROUP, n - r);
                int xo = xOffset + r * cols;
                int oo = outOffset + r * outStride;
                if (group == 1) {
                    if (storage == Storage.F32) {
                        rows1F32(x, xo, out, oo, o0, o1);
                    } else {
                        rows1Half(x, xo, out, oo, o0, o1);
                    }
                } else {
                    rows(group, x, xo, out, oo, outStride, o0, o1);
                }
                r += group;
            }
        }
    }

    // ---- kernels ----

    /** Up to {@link #MAX_GROUP} input rows against output rows [o0, o1): one accumulator per input row. */
    private void rows(int group, float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        if (storage == Storage.BF16 && group >= 4) {
            blockedBf16(group, x, xo, out, oo, stride, o0, o1);
            return;
        }
        boolean h = storage != Storage.F32;
        switch (group) {
            case 2 -> {
                if (h) {
                    rows2Half(x, xo, out, oo, stride, o0, o1);
                } else {
                    rows2F32(x, xo, out, oo, stride, o0, o1);
                }
            }
            case 3 -> {
                if (h) {
                    rows3Half(x, xo, out, oo, stride, o0, o1);
                } else {
                    rows3F32(x, xo, out, oo, stride, o0, o1);
                }
            }
            case 4 -> {
                if (h) {
                    rows4Half(x, xo, out, oo, stride, o0, o1);
                } else {
                    rows4F32(x, xo, out, oo, stride, o0, o1);
                }
            }
            case 5 -> {
                if (h) {
                    rows5Half(x, xo, out, oo, stride, o0, o1);
                } else {
                    rows5F32(x, xo, out, oo, stride, o0, o1);
                }
            }
            case 6 -> {
                if (h) {
                    rows6Half(x, xo, out, oo, stride, o0, o1);
                } else {
                    rows6F32(x, xo, out, oo, stride, o0, o1);
                }
            }
            case 7 -> {
                if (h) {
                    rows7Half(x, xo, out, oo, stride, o0, o1);
                } else {
                    rows7F32(x, xo, out, oo, stride, o0, o1);
                }
            }
            case 8 -> {
                if (h) {
                    rows8Half(x, xo, out, oo, stride, o0, o1);
                } else {
                    rows8F32(x, xo, out, oo, stride, o0, o1);
                }
            }
            default -> throw new IllegalArgumentException("group of " + group + " rows");
        }
    }

    // The kernels below are one per number of input rows (1..8) and storage, written out because the JIT
    // keeps vector accumulators in registers only as local variables. Every row of every kernel has the same
    // arithmetic (one accumulator over L-wide steps, then the same scalar tail), so a row's result does not
    // depend on how many rows it was computed with: batched = one by one, verification = decode, bit for bit.

    /** L half-precision weights from {@code i}, widened to float32 (float16: shift 13, mask 0x8FFFE000, scale 2^112, exact for
     * subnormals too; bfloat16: shift 16, scale 1). */
    private FloatVector narrow(int i) {
        IntVector bits = (IntVector) ShortVector.fromArray(SH, half, i).convertShape(VectorOperators.S2I, I, 0);
        return bits.lanewise(VectorOperators.LSHL, shift).and(mask).reinterpretAsFloats().mul(scale);
    }

    private void rows1Half(float[] x, int xo, float[] out, int oo, int o0, int o1) {
        int bound = F.loopBound(cols);
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = narrow(w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
        }
    }

    private void rows2Half(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = narrow(w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
        }
    }

    private void rows3Half(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = narrow(w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
        }
    }

    private void rows4Half(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = narrow(w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = u.fma(FloatVector.fromArray(F, x, x3 + i), a3);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a3.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
        }
    }

    private void rows5Half(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            FloatVector a4 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = narrow(w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = u.fma(FloatVector.fromArray(F, x, x3 + i), a3);
                a4 = u.fma(FloatVector.fromArray(F, x, x4 + i), a4);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a3.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a4.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
        }
    }

    private void rows6Half(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        int x5 = xo + 5 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            FloatVector a4 = FloatVector.zero(F);
            FloatVector a5 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = narrow(w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = u.fma(FloatVector.fromArray(F, x, x3 + i), a3);
                a4 = u.fma(FloatVector.fromArray(F, x, x4 + i), a4);
                a5 = u.fma(FloatVector.fromArray(F, x, x5 + i), a5);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a3.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a4.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a5.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
        }
    }

    private void rows7Half(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        int x5 = xo + 5 * cols;
        int x6 = xo + 6 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            FloatVector a4 = FloatVector.zero(F);
            FloatVector a5 = FloatVector.zero(F);
            FloatVector a6 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = narrow(w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = u.fma(FloatVector.fromArray(F, x, x3 + i), a3);
                a4 = u.fma(FloatVector.fromArray(F, x, x4 + i), a4);
                a5 = u.fma(FloatVector.fromArray(F, x, x5 + i), a5);
                a6 = u.fma(FloatVector.fromArray(F, x, x6 + i), a6);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a3.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a4.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a5.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
            out[oo + 6 * stride + o] = a6.reduceLanes(VectorOperators.ADD) + tail(x, x6, o, bound);
        }
    }

    private void rows8Half(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        int x5 = xo + 5 * cols;
        int x6 = xo + 6 * cols;
        int x7 = xo + 7 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            FloatVector a4 = FloatVector.zero(F);
            FloatVector a5 = FloatVector.zero(F);
            FloatVector a6 = FloatVector.zero(F);
            FloatVector a7 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = narrow(w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = u.fma(FloatVector.fromArray(F, x, x3 + i), a3);
                a4 = u.fma(FloatVector.fromArray(F, x, x4 + i), a4);
                a5 = u.fma(FloatVector.fromArray(F, x, x5 + i), a5);
                a6 = u.fma(FloatVector.fromArray(F, x, x6 + i), a6);
                a7 = u.fma(FloatVector.fromArray(F, x, x7 + i), a7);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a3.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a4.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a5.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
            out[oo + 6 * stride + o] = a6.reduceLanes(VectorOperators.ADD) + tail(x, x6, o, bound);
            out[oo + 7 * stride + o] = a7.reduceLanes(VectorOperators.ADD) + tail(x, x7, o, bound);
        }
    }

    private void rows1F32(float[] x, int xo, float[] out, int oo, int o0, int o1) {
        int bound = F.loopBound(cols);
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = FloatVector.fromArray(F, f32, w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
        }
    }

    private void rows2F32(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = FloatVector.fromArray(F, f32, w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
        }
    }

    private void rows3F32(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = FloatVector.fromArray(F, f32, w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
        }
    }

    private void rows4F32(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = FloatVector.fromArray(F, f32, w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = u.fma(FloatVector.fromArray(F, x, x3 + i), a3);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a3.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
        }
    }

    private void rows5F32(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            FloatVector a4 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = FloatVector.fromArray(F, f32, w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = u.fma(FloatVector.fromArray(F, x, x3 + i), a3);
                a4 = u.fma(FloatVector.fromArray(F, x, x4 + i), a4);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a3.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a4.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
        }
    }

    private void rows6F32(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        int x5 = xo + 5 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            FloatVector a4 = FloatVector.zero(F);
            FloatVector a5 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = FloatVector.fromArray(F, f32, w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = u.fma(FloatVector.fromArray(F, x, x3 + i), a3);
                a4 = u.fma(FloatVector.fromArray(F, x, x4 + i), a4);
                a5 = u.fma(FloatVector.fromArray(F, x, x5 + i), a5);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a3.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a4.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a5.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
        }
    }

    private void rows7F32(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        int x5 = xo + 5 * cols;
        int x6 = xo + 6 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            FloatVector a4 = FloatVector.zero(F);
            FloatVector a5 = FloatVector.zero(F);
            FloatVector a6 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = FloatVector.fromArray(F, f32, w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = u.fma(FloatVector.fromArray(F, x, x3 + i), a3);
                a4 = u.fma(FloatVector.fromArray(F, x, x4 + i), a4);
                a5 = u.fma(FloatVector.fromArray(F, x, x5 + i), a5);
                a6 = u.fma(FloatVector.fromArray(F, x, x6 + i), a6);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a3.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a4.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a5.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
            out[oo + 6 * stride + o] = a6.reduceLanes(VectorOperators.ADD) + tail(x, x6, o, bound);
        }
    }

    private void rows8F32(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        int x5 = xo + 5 * cols;
        int x6 = xo + 6 * cols;
        int x7 = xo + 7 * cols;
        for (int o = o0; o < o1; o++) {
            int w = o * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            FloatVector a4 = FloatVector.zero(F);
            FloatVector a5 = FloatVector.zero(F);
            FloatVector a6 = FloatVector.zero(F);
            FloatVector a7 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u = FloatVector.fromArray(F, f32, w + i);
                a0 = u.fma(FloatVector.fromArray(F, x, xo + i), a0);
                a1 = u.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = u.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = u.fma(FloatVector.fromArray(F, x, x3 + i), a3);
                a4 = u.fma(FloatVector.fromArray(F, x, x4 + i), a4);
                a5 = u.fma(FloatVector.fromArray(F, x, x5 + i), a5);
                a6 = u.fma(FloatVector.fromArray(F, x, x6 + i), a6);
                a7 = u.fma(FloatVector.fromArray(F, x, x7 + i), a7);
            }
            out[oo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + stride + o] = a1.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a2.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a3.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a4.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a5.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
            out[oo + 6 * stride + o] = a6.reduceLanes(VectorOperators.ADD) + tail(x, x6, o, bound);
            out[oo + 7 * stride + o] = a7.reduceLanes(VectorOperators.ADD) + tail(x, x7, o, bound);
        }
    }

    // ---- bfloat16 kernels for 4 to 8 input rows, register-blocked ----
    // From 4 input rows on, a one-output-row kernel is bound by arithmetic and loads, not by memory: each
    // weight vector is widened once, but every x vector is loaded again for each output row. These kernels
    // compute several output rows per pass (4, or 3 from 7 input rows on, so accumulators, weight vectors
    // and one x vector fit the 32 vector registers), each x vector load serving all of them. Every (output
    // row, input row) keeps the arithmetic of the kernels above (one accumulator over L-wide steps in column
    // order, reduceLanes, the same scalar tail), so results are bit-identical whichever kernel computes
    // them. Measured on 24 matrices of 5632 x 2048 (0.55 GB, from memory): 6 rows in 44-54 ms against 100-105
    // ms with one output row per pass; one to three rows stay on the kernels above, which stream one weight
    // row at a time (24-30 ms; several weight streams at once cost the single-row decode 30-50%).

    private void blockedBf16(int group, float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        switch (group) {
            case 4 -> rows4Bf16(x, xo, out, oo, stride, o0, o1);
            case 5 -> rows5Bf16(x, xo, out, oo, stride, o0, o1);
            case 6 -> rows6Bf16(x, xo, out, oo, stride, o0, o1);
            case 7 -> rows7Bf16(x, xo, out, oo, stride, o0, o1);
            case 8 -> rows8Bf16(x, xo, out, oo, stride, o0, o1);
            default -> throw new IllegalArgumentException("group of " + group + " rows");
        }
    }

    /** L bfloat16 weights from {@code i}, widened to float32: a shift (exact). */
    private FloatVector widenBf16(int i) {
        IntVector bits = (IntVector) ShortVector.fromArray(SH, half, i).convertShape(VectorOperators.S2I, I, 0);
        return bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private void rows4Bf16(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int o = o0;
        for (; o + 4 <= o1; o += 4) {
            int w0 = o * cols;
            int w1 = w0 + 1 * cols;
            int w2 = w0 + 2 * cols;
            int w3 = w0 + 3 * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a03 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a12 = FloatVector.zero(F);
            FloatVector a13 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a22 = FloatVector.zero(F);
            FloatVector a23 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            FloatVector a32 = FloatVector.zero(F);
            FloatVector a33 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u0 = widenBf16(w0 + i);
                FloatVector u1 = widenBf16(w1 + i);
                FloatVector u2 = widenBf16(w2 + i);
                FloatVector u3 = widenBf16(w3 + i);
                FloatVector v0 = FloatVector.fromArray(F, x, xo + i);
                a00 = u0.fma(v0, a00);
                a10 = u1.fma(v0, a10);
                a20 = u2.fma(v0, a20);
                a30 = u3.fma(v0, a30);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                a01 = u0.fma(v1, a01);
                a11 = u1.fma(v1, a11);
                a21 = u2.fma(v1, a21);
                a31 = u3.fma(v1, a31);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                a02 = u0.fma(v2, a02);
                a12 = u1.fma(v2, a12);
                a22 = u2.fma(v2, a22);
                a32 = u3.fma(v2, a32);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                a03 = u0.fma(v3, a03);
                a13 = u1.fma(v3, a13);
                a23 = u2.fma(v3, a23);
                a33 = u3.fma(v3, a33);
            }
            out[oo + o] = a00.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + 1 * stride + o] = a01.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a02.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a03.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + o + 1] = a10.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 1, bound);
            out[oo + 1 * stride + o + 1] = a11.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 1, bound);
            out[oo + 2 * stride + o + 1] = a12.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 1, bound);
            out[oo + 3 * stride + o + 1] = a13.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 1, bound);
            out[oo + o + 2] = a20.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 2, bound);
            out[oo + 1 * stride + o + 2] = a21.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 2, bound);
            out[oo + 2 * stride + o + 2] = a22.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 2, bound);
            out[oo + 3 * stride + o + 2] = a23.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 2, bound);
            out[oo + o + 3] = a30.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 3, bound);
            out[oo + 1 * stride + o + 3] = a31.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 3, bound);
            out[oo + 2 * stride + o + 3] = a32.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 3, bound);
            out[oo + 3 * stride + o + 3] = a33.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 3, bound);
        }
        for (; o < o1; o++) {
            int w0 = o * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a03 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u0 = widenBf16(w0 + i);
                FloatVector v0 = FloatVector.fromArray(F, x, xo + i);
                a00 = u0.fma(v0, a00);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                a01 = u0.fma(v1, a01);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                a02 = u0.fma(v2, a02);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                a03 = u0.fma(v3, a03);
            }
            out[oo + o] = a00.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + 1 * stride + o] = a01.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a02.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a03.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
        }
    }

    private void rows5Bf16(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        int o = o0;
        for (; o + 4 <= o1; o += 4) {
            int w0 = o * cols;
            int w1 = w0 + 1 * cols;
            int w2 = w0 + 2 * cols;
            int w3 = w0 + 3 * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a03 = FloatVector.zero(F);
            FloatVector a04 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a12 = FloatVector.zero(F);
            FloatVector a13 = FloatVector.zero(F);
            FloatVector a14 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a22 = FloatVector.zero(F);
            FloatVector a23 = FloatVector.zero(F);
            FloatVector a24 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            FloatVector a32 = FloatVector.zero(F);
            FloatVector a33 = FloatVector.zero(F);
            FloatVector a34 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u0 = widenBf16(w0 + i);
                FloatVector u1 = widenBf16(w1 + i);
                FloatVector u2 = widenBf16(w2 + i);
                FloatVector u3 = widenBf16(w3 + i);
                FloatVector v0 = FloatVector.fromArray(F, x, xo + i);
                a00 = u0.fma(v0, a00);
                a10 = u1.fma(v0, a10);
                a20 = u2.fma(v0, a20);
                a30 = u3.fma(v0, a30);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                a01 = u0.fma(v1, a01);
                a11 = u1.fma(v1, a11);
                a21 = u2.fma(v1, a21);
                a31 = u3.fma(v1, a31);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                a02 = u0.fma(v2, a02);
                a12 = u1.fma(v2, a12);
                a22 = u2.fma(v2, a22);
                a32 = u3.fma(v2, a32);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                a03 = u0.fma(v3, a03);
                a13 = u1.fma(v3, a13);
                a23 = u2.fma(v3, a23);
                a33 = u3.fma(v3, a33);
                FloatVector v4 = FloatVector.fromArray(F, x, x4 + i);
                a04 = u0.fma(v4, a04);
                a14 = u1.fma(v4, a14);
                a24 = u2.fma(v4, a24);
                a34 = u3.fma(v4, a34);
            }
            out[oo + o] = a00.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + 1 * stride + o] = a01.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a02.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a03.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a04.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + o + 1] = a10.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 1, bound);
            out[oo + 1 * stride + o + 1] = a11.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 1, bound);
            out[oo + 2 * stride + o + 1] = a12.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 1, bound);
            out[oo + 3 * stride + o + 1] = a13.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 1, bound);
            out[oo + 4 * stride + o + 1] = a14.reduceLanes(VectorOperators.ADD) + tail(x, x4, o + 1, bound);
            out[oo + o + 2] = a20.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 2, bound);
            out[oo + 1 * stride + o + 2] = a21.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 2, bound);
            out[oo + 2 * stride + o + 2] = a22.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 2, bound);
            out[oo + 3 * stride + o + 2] = a23.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 2, bound);
            out[oo + 4 * stride + o + 2] = a24.reduceLanes(VectorOperators.ADD) + tail(x, x4, o + 2, bound);
            out[oo + o + 3] = a30.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 3, bound);
            out[oo + 1 * stride + o + 3] = a31.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 3, bound);
            out[oo + 2 * stride + o + 3] = a32.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 3, bound);
            out[oo + 3 * stride + o + 3] = a33.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 3, bound);
            out[oo + 4 * stride + o + 3] = a34.reduceLanes(VectorOperators.ADD) + tail(x, x4, o + 3, bound);
        }
        for (; o < o1; o++) {
            int w0 = o * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a03 = FloatVector.zero(F);
            FloatVector a04 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u0 = widenBf16(w0 + i);
                FloatVector v0 = FloatVector.fromArray(F, x, xo + i);
                a00 = u0.fma(v0, a00);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                a01 = u0.fma(v1, a01);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                a02 = u0.fma(v2, a02);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                a03 = u0.fma(v3, a03);
                FloatVector v4 = FloatVector.fromArray(F, x, x4 + i);
                a04 = u0.fma(v4, a04);
            }
            out[oo + o] = a00.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + 1 * stride + o] = a01.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a02.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a03.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a04.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
        }
    }

    private void rows6Bf16(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        int x5 = xo + 5 * cols;
        int o = o0;
        for (; o + 4 <= o1; o += 4) {
            int w0 = o * cols;
            int w1 = w0 + 1 * cols;
            int w2 = w0 + 2 * cols;
            int w3 = w0 + 3 * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a03 = FloatVector.zero(F);
            FloatVector a04 = FloatVector.zero(F);
            FloatVector a05 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a12 = FloatVector.zero(F);
            FloatVector a13 = FloatVector.zero(F);
            FloatVector a14 = FloatVector.zero(F);
            FloatVector a15 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a22 = FloatVector.zero(F);
            FloatVector a23 = FloatVector.zero(F);
            FloatVector a24 = FloatVector.zero(F);
            FloatVector a25 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            FloatVector a32 = FloatVector.zero(F);
            FloatVector a33 = FloatVector.zero(F);
            FloatVector a34 = FloatVector.zero(F);
            FloatVector a35 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u0 = widenBf16(w0 + i);
                FloatVector u1 = widenBf16(w1 + i);
                FloatVector u2 = widenBf16(w2 + i);
                FloatVector u3 = widenBf16(w3 + i);
                FloatVector v0 = FloatVector.fromArray(F, x, xo + i);
                a00 = u0.fma(v0, a00);
                a10 = u1.fma(v0, a10);
                a20 = u2.fma(v0, a20);
                a30 = u3.fma(v0, a30);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                a01 = u0.fma(v1, a01);
                a11 = u1.fma(v1, a11);
                a21 = u2.fma(v1, a21);
                a31 = u3.fma(v1, a31);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                a02 = u0.fma(v2, a02);
                a12 = u1.fma(v2, a12);
                a22 = u2.fma(v2, a22);
                a32 = u3.fma(v2, a32);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                a03 = u0.fma(v3, a03);
                a13 = u1.fma(v3, a13);
                a23 = u2.fma(v3, a23);
                a33 = u3.fma(v3, a33);
                FloatVector v4 = FloatVector.fromArray(F, x, x4 + i);
                a04 = u0.fma(v4, a04);
                a14 = u1.fma(v4, a14);
                a24 = u2.fma(v4, a24);
                a34 = u3.fma(v4, a34);
                FloatVector v5 = FloatVector.fromArray(F, x, x5 + i);
                a05 = u0.fma(v5, a05);
                a15 = u1.fma(v5, a15);
                a25 = u2.fma(v5, a25);
                a35 = u3.fma(v5, a35);
            }
            out[oo + o] = a00.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + 1 * stride + o] = a01.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a02.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a03.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a04.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a05.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
            out[oo + o + 1] = a10.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 1, bound);
            out[oo + 1 * stride + o + 1] = a11.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 1, bound);
            out[oo + 2 * stride + o + 1] = a12.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 1, bound);
            out[oo + 3 * stride + o + 1] = a13.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 1, bound);
            out[oo + 4 * stride + o + 1] = a14.reduceLanes(VectorOperators.ADD) + tail(x, x4, o + 1, bound);
            out[oo + 5 * stride + o + 1] = a15.reduceLanes(VectorOperators.ADD) + tail(x, x5, o + 1, bound);
            out[oo + o + 2] = a20.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 2, bound);
            out[oo + 1 * stride + o + 2] = a21.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 2, bound);
            out[oo + 2 * stride + o + 2] = a22.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 2, bound);
            out[oo + 3 * stride + o + 2] = a23.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 2, bound);
            out[oo + 4 * stride + o + 2] = a24.reduceLanes(VectorOperators.ADD) + tail(x, x4, o + 2, bound);
            out[oo + 5 * stride + o + 2] = a25.reduceLanes(VectorOperators.ADD) + tail(x, x5, o + 2, bound);
            out[oo + o + 3] = a30.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 3, bound);
            out[oo + 1 * stride + o + 3] = a31.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 3, bound);
            out[oo + 2 * stride + o + 3] = a32.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 3, bound);
            out[oo + 3 * stride + o + 3] = a33.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 3, bound);
            out[oo + 4 * stride + o + 3] = a34.reduceLanes(VectorOperators.ADD) + tail(x, x4, o + 3, bound);
            out[oo + 5 * stride + o + 3] = a35.reduceLanes(VectorOperators.ADD) + tail(x, x5, o + 3, bound);
        }
        for (; o < o1; o++) {
            int w0 = o * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a03 = FloatVector.zero(F);
            FloatVector a04 = FloatVector.zero(F);
            FloatVector a05 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u0 = widenBf16(w0 + i);
                FloatVector v0 = FloatVector.fromArray(F, x, xo + i);
                a00 = u0.fma(v0, a00);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                a01 = u0.fma(v1, a01);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                a02 = u0.fma(v2, a02);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                a03 = u0.fma(v3, a03);
                FloatVector v4 = FloatVector.fromArray(F, x, x4 + i);
                a04 = u0.fma(v4, a04);
                FloatVector v5 = FloatVector.fromArray(F, x, x5 + i);
                a05 = u0.fma(v5, a05);
            }
            out[oo + o] = a00.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + 1 * stride + o] = a01.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a02.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a03.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a04.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a05.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
        }
    }

    private void rows7Bf16(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        int x5 = xo + 5 * cols;
        int x6 = xo + 6 * cols;
        int o = o0;
        for (; o + 3 <= o1; o += 3) {
            int w0 = o * cols;
            int w1 = w0 + 1 * cols;
            int w2 = w0 + 2 * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a03 = FloatVector.zero(F);
            FloatVector a04 = FloatVector.zero(F);
            FloatVector a05 = FloatVector.zero(F);
            FloatVector a06 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a12 = FloatVector.zero(F);
            FloatVector a13 = FloatVector.zero(F);
            FloatVector a14 = FloatVector.zero(F);
            FloatVector a15 = FloatVector.zero(F);
            FloatVector a16 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a22 = FloatVector.zero(F);
            FloatVector a23 = FloatVector.zero(F);
            FloatVector a24 = FloatVector.zero(F);
            FloatVector a25 = FloatVector.zero(F);
            FloatVector a26 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u0 = widenBf16(w0 + i);
                FloatVector u1 = widenBf16(w1 + i);
                FloatVector u2 = widenBf16(w2 + i);
                FloatVector v0 = FloatVector.fromArray(F, x, xo + i);
                a00 = u0.fma(v0, a00);
                a10 = u1.fma(v0, a10);
                a20 = u2.fma(v0, a20);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                a01 = u0.fma(v1, a01);
                a11 = u1.fma(v1, a11);
                a21 = u2.fma(v1, a21);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                a02 = u0.fma(v2, a02);
                a12 = u1.fma(v2, a12);
                a22 = u2.fma(v2, a22);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                a03 = u0.fma(v3, a03);
                a13 = u1.fma(v3, a13);
                a23 = u2.fma(v3, a23);
                FloatVector v4 = FloatVector.fromArray(F, x, x4 + i);
                a04 = u0.fma(v4, a04);
                a14 = u1.fma(v4, a14);
                a24 = u2.fma(v4, a24);
                FloatVector v5 = FloatVector.fromArray(F, x, x5 + i);
                a05 = u0.fma(v5, a05);
                a15 = u1.fma(v5, a15);
                a25 = u2.fma(v5, a25);
                FloatVector v6 = FloatVector.fromArray(F, x, x6 + i);
                a06 = u0.fma(v6, a06);
                a16 = u1.fma(v6, a16);
                a26 = u2.fma(v6, a26);
            }
            out[oo + o] = a00.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + 1 * stride + o] = a01.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a02.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a03.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a04.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a05.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
            out[oo + 6 * stride + o] = a06.reduceLanes(VectorOperators.ADD) + tail(x, x6, o, bound);
            out[oo + o + 1] = a10.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 1, bound);
            out[oo + 1 * stride + o + 1] = a11.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 1, bound);
            out[oo + 2 * stride + o + 1] = a12.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 1, bound);
            out[oo + 3 * stride + o + 1] = a13.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 1, bound);
            out[oo + 4 * stride + o + 1] = a14.reduceLanes(VectorOperators.ADD) + tail(x, x4, o + 1, bound);
            out[oo + 5 * stride + o + 1] = a15.reduceLanes(VectorOperators.ADD) + tail(x, x5, o + 1, bound);
            out[oo + 6 * stride + o + 1] = a16.reduceLanes(VectorOperators.ADD) + tail(x, x6, o + 1, bound);
            out[oo + o + 2] = a20.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 2, bound);
            out[oo + 1 * stride + o + 2] = a21.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 2, bound);
            out[oo + 2 * stride + o + 2] = a22.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 2, bound);
            out[oo + 3 * stride + o + 2] = a23.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 2, bound);
            out[oo + 4 * stride + o + 2] = a24.reduceLanes(VectorOperators.ADD) + tail(x, x4, o + 2, bound);
            out[oo + 5 * stride + o + 2] = a25.reduceLanes(VectorOperators.ADD) + tail(x, x5, o + 2, bound);
            out[oo + 6 * stride + o + 2] = a26.reduceLanes(VectorOperators.ADD) + tail(x, x6, o + 2, bound);
        }
        for (; o < o1; o++) {
            int w0 = o * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a03 = FloatVector.zero(F);
            FloatVector a04 = FloatVector.zero(F);
            FloatVector a05 = FloatVector.zero(F);
            FloatVector a06 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u0 = widenBf16(w0 + i);
                FloatVector v0 = FloatVector.fromArray(F, x, xo + i);
                a00 = u0.fma(v0, a00);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                a01 = u0.fma(v1, a01);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                a02 = u0.fma(v2, a02);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                a03 = u0.fma(v3, a03);
                FloatVector v4 = FloatVector.fromArray(F, x, x4 + i);
                a04 = u0.fma(v4, a04);
                FloatVector v5 = FloatVector.fromArray(F, x, x5 + i);
                a05 = u0.fma(v5, a05);
                FloatVector v6 = FloatVector.fromArray(F, x, x6 + i);
                a06 = u0.fma(v6, a06);
            }
            out[oo + o] = a00.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + 1 * stride + o] = a01.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a02.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a03.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a04.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a05.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
            out[oo + 6 * stride + o] = a06.reduceLanes(VectorOperators.ADD) + tail(x, x6, o, bound);
        }
    }

    private void rows8Bf16(float[] x, int xo, float[] out, int oo, int stride, int o0, int o1) {
        int bound = F.loopBound(cols);
        int x1 = xo + 1 * cols;
        int x2 = xo + 2 * cols;
        int x3 = xo + 3 * cols;
        int x4 = xo + 4 * cols;
        int x5 = xo + 5 * cols;
        int x6 = xo + 6 * cols;
        int x7 = xo + 7 * cols;
        int o = o0;
        for (; o + 3 <= o1; o += 3) {
            int w0 = o * cols;
            int w1 = w0 + 1 * cols;
            int w2 = w0 + 2 * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a03 = FloatVector.zero(F);
            FloatVector a04 = FloatVector.zero(F);
            FloatVector a05 = FloatVector.zero(F);
            FloatVector a06 = FloatVector.zero(F);
            FloatVector a07 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a12 = FloatVector.zero(F);
            FloatVector a13 = FloatVector.zero(F);
            FloatVector a14 = FloatVector.zero(F);
            FloatVector a15 = FloatVector.zero(F);
            FloatVector a16 = FloatVector.zero(F);
            FloatVector a17 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a22 = FloatVector.zero(F);
            FloatVector a23 = FloatVector.zero(F);
            FloatVector a24 = FloatVector.zero(F);
            FloatVector a25 = FloatVector.zero(F);
            FloatVector a26 = FloatVector.zero(F);
            FloatVector a27 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u0 = widenBf16(w0 + i);
                FloatVector u1 = widenBf16(w1 + i);
                FloatVector u2 = widenBf16(w2 + i);
                FloatVector v0 = FloatVector.fromArray(F, x, xo + i);
                a00 = u0.fma(v0, a00);
                a10 = u1.fma(v0, a10);
                a20 = u2.fma(v0, a20);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                a01 = u0.fma(v1, a01);
                a11 = u1.fma(v1, a11);
                a21 = u2.fma(v1, a21);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                a02 = u0.fma(v2, a02);
                a12 = u1.fma(v2, a12);
                a22 = u2.fma(v2, a22);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                a03 = u0.fma(v3, a03);
                a13 = u1.fma(v3, a13);
                a23 = u2.fma(v3, a23);
                FloatVector v4 = FloatVector.fromArray(F, x, x4 + i);
                a04 = u0.fma(v4, a04);
                a14 = u1.fma(v4, a14);
                a24 = u2.fma(v4, a24);
                FloatVector v5 = FloatVector.fromArray(F, x, x5 + i);
                a05 = u0.fma(v5, a05);
                a15 = u1.fma(v5, a15);
                a25 = u2.fma(v5, a25);
                FloatVector v6 = FloatVector.fromArray(F, x, x6 + i);
                a06 = u0.fma(v6, a06);
                a16 = u1.fma(v6, a16);
                a26 = u2.fma(v6, a26);
                FloatVector v7 = FloatVector.fromArray(F, x, x7 + i);
                a07 = u0.fma(v7, a07);
                a17 = u1.fma(v7, a17);
                a27 = u2.fma(v7, a27);
            }
            out[oo + o] = a00.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + 1 * stride + o] = a01.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a02.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a03.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a04.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a05.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
            out[oo + 6 * stride + o] = a06.reduceLanes(VectorOperators.ADD) + tail(x, x6, o, bound);
            out[oo + 7 * stride + o] = a07.reduceLanes(VectorOperators.ADD) + tail(x, x7, o, bound);
            out[oo + o + 1] = a10.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 1, bound);
            out[oo + 1 * stride + o + 1] = a11.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 1, bound);
            out[oo + 2 * stride + o + 1] = a12.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 1, bound);
            out[oo + 3 * stride + o + 1] = a13.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 1, bound);
            out[oo + 4 * stride + o + 1] = a14.reduceLanes(VectorOperators.ADD) + tail(x, x4, o + 1, bound);
            out[oo + 5 * stride + o + 1] = a15.reduceLanes(VectorOperators.ADD) + tail(x, x5, o + 1, bound);
            out[oo + 6 * stride + o + 1] = a16.reduceLanes(VectorOperators.ADD) + tail(x, x6, o + 1, bound);
            out[oo + 7 * stride + o + 1] = a17.reduceLanes(VectorOperators.ADD) + tail(x, x7, o + 1, bound);
            out[oo + o + 2] = a20.reduceLanes(VectorOperators.ADD) + tail(x, xo, o + 2, bound);
            out[oo + 1 * stride + o + 2] = a21.reduceLanes(VectorOperators.ADD) + tail(x, x1, o + 2, bound);
            out[oo + 2 * stride + o + 2] = a22.reduceLanes(VectorOperators.ADD) + tail(x, x2, o + 2, bound);
            out[oo + 3 * stride + o + 2] = a23.reduceLanes(VectorOperators.ADD) + tail(x, x3, o + 2, bound);
            out[oo + 4 * stride + o + 2] = a24.reduceLanes(VectorOperators.ADD) + tail(x, x4, o + 2, bound);
            out[oo + 5 * stride + o + 2] = a25.reduceLanes(VectorOperators.ADD) + tail(x, x5, o + 2, bound);
            out[oo + 6 * stride + o + 2] = a26.reduceLanes(VectorOperators.ADD) + tail(x, x6, o + 2, bound);
            out[oo + 7 * stride + o + 2] = a27.reduceLanes(VectorOperators.ADD) + tail(x, x7, o + 2, bound);
        }
        for (; o < o1; o++) {
            int w0 = o * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a03 = FloatVector.zero(F);
            FloatVector a04 = FloatVector.zero(F);
            FloatVector a05 = FloatVector.zero(F);
            FloatVector a06 = FloatVector.zero(F);
            FloatVector a07 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector u0 = widenBf16(w0 + i);
                FloatVector v0 = FloatVector.fromArray(F, x, xo + i);
                a00 = u0.fma(v0, a00);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                a01 = u0.fma(v1, a01);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                a02 = u0.fma(v2, a02);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                a03 = u0.fma(v3, a03);
                FloatVector v4 = FloatVector.fromArray(F, x, x4 + i);
                a04 = u0.fma(v4, a04);
                FloatVector v5 = FloatVector.fromArray(F, x, x5 + i);
                a05 = u0.fma(v5, a05);
                FloatVector v6 = FloatVector.fromArray(F, x, x6 + i);
                a06 = u0.fma(v6, a06);
                FloatVector v7 = FloatVector.fromArray(F, x, x7 + i);
                a07 = u0.fma(v7, a07);
            }
            out[oo + o] = a00.reduceLanes(VectorOperators.ADD) + tail(x, xo, o, bound);
            out[oo + 1 * stride + o] = a01.reduceLanes(VectorOperators.ADD) + tail(x, x1, o, bound);
            out[oo + 2 * stride + o] = a02.reduceLanes(VectorOperators.ADD) + tail(x, x2, o, bound);
            out[oo + 3 * stride + o] = a03.reduceLanes(VectorOperators.ADD) + tail(x, x3, o, bound);
            out[oo + 4 * stride + o] = a04.reduceLanes(VectorOperators.ADD) + tail(x, x4, o, bound);
            out[oo + 5 * stride + o] = a05.reduceLanes(VectorOperators.ADD) + tail(x, x5, o, bound);
            out[oo + 6 * stride + o] = a06.reduceLanes(VectorOperators.ADD) + tail(x, x6, o, bound);
            out[oo + 7 * stride + o] = a07.reduceLanes(VectorOperators.ADD) + tail(x, x7, o, bound);
        }
    }

    /** The columns past the last whole step, in scalar code. */
    private float tail(float[] x, int xo, int o, int from) {
        float sum = 0f;
        for (int i = from; i < cols; i++) {
            sum += get(o, i) * x[xo + i];
        }
        return sum;
    }
}
