package dev.osd.app;

import dev.osd.engine.SafeTensors;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF version 3, llama.cpp's model file: the magic "GGUF", the version, the tensor and key-value
 * counts, typed key-value metadata, one info per tensor (name, dimensions innermost first, type, offset),
 * then the tensor data, every tensor starting at a multiple of the alignment. Only what a dense
 * F32 / F16 / BF16 checkpoint needs is here; everything little-endian. A tensor is held as the checkpoint
 * stores it (16-bit patterns stay 16-bit) and converted only as it is written, so a 1.1B BF16 checkpoint
 * takes its stored 2.2 GB while it is written, not 4.4 GB of floats.
 */
final class GgufWriter {

    static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
    static final int VERSION = 3;
    static final int ALIGNMENT = 32;

    /** GGUF's metadata value types (gguf_type), by their numbers in the format. */
    enum ValueType {
        UINT8(0), INT8(1), UINT16(2), INT16(3), UINT32(4), INT32(5), FLOAT32(6), BOOL(7), STRING(8), ARRAY(9),
        UINT64(10), INT64(11), FLOAT64(12);

        final int id;

        ValueType(int id) {
            this.id = id;
        }
    }

    /** ggml's tensor types this writer stores, by their ggml_type numbers. */
    enum TensorType {
        F32(0, 4), F16(1, 2), BF16(30, 2);

        final int id;
        final int bytes;

        TensorType(int id, int bytes) {
            this.id = id;
            this.bytes = bytes;
        }
    }

    private record Value(ValueType type, ValueType elementType, Object value) {
    }

    /** A tensor's data: float32 values, or its stored F16/BF16 patterns ({@code bits}, {@code bitsType}). */
    private record TensorInfo(String name, long[] shape, TensorType type, float[] values, short[] bits,
            SafeTensors.DType bitsType) {
        long bytes() {
            return (long) (values != null ? values.length : bits.length) * type.bytes;
        }
    }

    private final Map<String, Value> metadata = new LinkedHashMap<>();
    private final List<TensorInfo> tensors = new ArrayList<>();

    GgufWriter() {
        putUint32("general.alignment", ALIGNMENT);
    }

    GgufWriter putString(String key, String value) {
        return put(key, new Value(ValueType.STRING, null, value));
    }

    GgufWriter putUint32(String key, long value) {
        if (value < 0 || value > 0xffff_ffffL) {
            throw new IllegalArgumentException(key + ": " + value + " is not a uint32");
        }
        return put(key, new Value(ValueType.UINT32, null, value));
    }

    GgufWriter putFloat32(String key, double value) {
        return put(key, new Value(ValueType.FLOAT32, null, (float) value));
    }

    GgufWriter putBool(String key, boolean value) {
        return put(key, new Value(ValueType.BOOL, null, value));
    }

    GgufWriter putStrings(String key, List<String> values) {
        return put(key, new Value(ValueType.ARRAY, ValueType.STRING, List.copyOf(values)));
    }

    GgufWriter putFloat32s(String key, float[] values) {
        return put(key, new Value(ValueType.ARRAY, ValueType.FLOAT32, values.clone()));
    }

    GgufWriter putInt32s(String key, int[] values) {
        return put(key, new Value(ValueType.ARRAY, ValueType.INT32, values.clone()));
    }

    private GgufWriter put(String key, Value value) {
        if (metadata.containsKey(key)) {
            throw new IllegalArgumentException("key " + key + " written twice");
        }
        metadata.put(key, value);
        return this;
    }

    /**
     * @param shape row-major, outermost first, as safetensors and PyTorch give it (GGUF stores it reversed)
     * @param values row-major, converted to {@code type} when written
     */
    GgufWriter addTensor(String name, long[] shape, TensorType type, float[] values) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        if (n != values.length) {
            throw new IllegalArgumentException(name + ": shape holds " + n + " values, data has " + values.length);
        }
        return add(new TensorInfo(name, shape.clone(), type, values, null, null));
    }

    /**
     * A tensor as the checkpoint stores it: F32 values, or F16/BF16 bit patterns written as they are when
     * {@code type} is their own dtype (exact, no rounding), else widened and converted as they are written.
     */
    GgufWriter addTensor(String name, SafeTensors.StoredTensor t, TensorType type) {
        return t.dtype() == SafeTensors.DType.F32 ? addTensor(name, t.shape(), type, t.floats())
                : add(new TensorInfo(name, t.shape().clone(), type, null, t.bits(), t.dtype()));
    }

    private GgufWriter add(TensorInfo info) {
        if (tensors.stream().anyMatch(t -> t.name.equals(info.name))) {
            throw new IllegalArgumentException("tensor " + info.name + " added twice");
        }
        tensors.add(info);
        return this;
    }

    /** Writes a temporary file beside {@code file} and renames it over, so no reader sees half a model. */
    void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
            Sink sink = new Sink(out);
            sink.u32(MAGIC);
            sink.u32(VERSION);
            sink.u64(tensors.size());
            sink.u64(metadata.size());
            for (Map.Entry<String, Value> e : metadata.entrySet()) {
                sink.string(e.getKey());
                writeValue(sink, e.getValue());
            }
            long offset = 0;
            for (TensorInfo t : tensors) {
                sink.string(t.name);
                sink.u32(t.shape.length);
                for (int i = t.shape.length - 1; i >= 0; i--) {
                    sink.u64(t.shape[i]); // ggml's ne[0] is the innermost (contiguous) dimension
                }
                sink.u32(t.type.id);
                sink.u64(offset);
                offset = align(offset + t.bytes());
            }
            sink.pad();
            for (TensorInfo t : tensors) {
                if (t.values != null) {
                    sink.tensor(t.values, t.type);
                } else {
                    sink.tensor(t.bits, t.bitsType, t.type);
                }
                sink.pad();
            }
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Float32 to bfloat16, rounding to nearest even (as PyTorch does); NaN stays a quiet NaN. */
    static short floatToBfloat16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    static long align(long offset) {
        return (offset + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    @SuppressWarnings("unchecked")
    private static void writeValue(Sink sink, Value v) throws IOException {
        sink.u32(v.type.id);
        switch (v.type) {
            case STRING -> sink.string((String) v.value);
            case UINT32 -> sink.u32((int) (long) (Long) v.value);
            case FLOAT32 -> sink.f32((Float) v.value);
            case BOOL -> sink.u8((Boolean) v.value ? 1 : 0);
            case ARRAY -> {
                sink.u32(v.elementType.id);
                if (v.elementType == ValueType.STRING) {
                    List<String> list = (List<String>) v.value;
                    sink.u64(list.size());
                    for (String s : list) {
                        sink.string(s);
                    }
                } else if (v.elementType == ValueType.FLOAT32) {
                    float[] floats = (float[]) v.value;
                    sink.u64(floats.length);
                    for (float f : floats) {
                        sink.f32(f);
                    }
                } else {
                    int[] ints = (int[]) v.value;
                    sink.u64(ints.length);
                    for (int i : ints) {
                        sink.u32(i);
                    }
                }
            }
            default -> throw new IllegalStateException("no writer for " + v.type);
        }
    }

    /**
     * Reorders the rows of a Hugging Face q_proj or k_proj weight (rows, columns) for llama.cpp's RoPE.
     * Hugging Face rotates dimension i of a head with dimension i + d/2 (rotate_half); llama.cpp's Llama
     * RoPE rotates adjacent pairs (2i, 2i + 1). Within each head, row s·d/2 + j moves to row 2j + s, which
     * is llama.cpp's convert_hf_to_gguf.py permute: reshape (heads, 2, d/2, cols), swap axes 1 and 2.
     */
    static float[] permuteForRope(float[] weight, int rows, int columns, int heads) {
        float[] out = new float[weight.length];
        permuteRows(weight, out, weight.length, rows, columns, heads);
        return out;
    }

    /** {@link #permuteForRope(float[], int, int, int)} on a tensor's stored 16-bit patterns. */
    static short[] permuteForRope(short[] weight, int rows, int columns, int heads) {
        short[] out = new short[weight.length];
        permuteRows(weight, out, weight.length, rows, columns, heads);
        return out;
    }

    /** Permutes the rows of a q_proj/k_proj tensor for a RoPE in the stored form. */
    static SafeTensors.StoredTensor permuteForRope(SafeTensors.StoredTensor t, int heads) {
        int rows = (int) t.shape()[0];
        int columns = (int) t.shape()[1];
        return t.dtype() == SafeTensors.DType.F32
                ? new SafeTensors.StoredTensor(t.shape(), t.dtype(), null, permuteForRope(t.floats(), rows, columns, heads))
                : new SafeTensors.StoredTensor(t.shape(), t.dtype(), permuteForRope(t.bits(), rows, columns, heads), null);
    }

    private static void permuteRows(Object weight, Object out, int length, int rows, int columns, int heads) {
        if (rows % heads != 0 || (rows / heads) % 2 != 0 || (long) rows * columns != length) {
            throw new IllegalArgumentException("cannot split " + rows + " rows into " + heads + " heads of even size");
        }
        int headDim = rows / heads;
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            for (int s = 0; s < 2; s++) {
                for (int j = 0; j < half; j++) {
                    int from = h * headDim + s * half + j;
                    int to = h * headDim + 2 * j + s;
                    System.arraycopy(weight, from * columns, out, to * columns, columns);
                }
            }
        }
    }

    /** Little-endian primitives onto a stream, counting bytes for the alignment padding. */
    private static final class Sink {
        private final OutputStream out;
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        private long written;

        Sink(OutputStream out) {
            this.out = out;
        }

        void u8(int v) throws IOException {
            out.write(v);
            written++;
        }

        void u32(int v) throws IOException {
            scratch.clear();
            scratch.putInt(v);
            out.write(scratch.array(), 0, 4);
            written += 4;
        }

        void u64(long v) throws IOException {
            scratch.clear();
            scratch.putLong(v);
            out.write(scratch.array(), 0, 8);
            written += 8;
        }

        void f32(float v) throws IOException {
            u32(Float.floatToRawIntBits(v));
        }

        void string(String s) throws IOException {
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
            u64(bytes.length);
            out.write(bytes);
            written += bytes.length;
        }

        void tensor(float[] values, TensorType type) throws IOException {
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : values) {
                if (buf.remaining() < 4) {
                    flush(buf);
                }
                switch (type) {
                    case F32 -> buf.putFloat(v);
                    case F16 -> buf.putShort(SafeTensors.floatToHalf(v));
                    case BF16 -> buf.putShort(floatToBfloat16(v));
                    default -> throw new IllegalStateException("no writer for " + type);
                }
            }
            flush(buf);
        }

        /** Stored 16-bit patterns: copied when {@code type} is their dtype, else widened and converted. */
        void tensor(short[] bits, SafeTensors.DType stored, TensorType type) throws IOException {
            boolean same = (stored == SafeTensors.DType.BF16 && type == TensorType.BF16)
                    || (stored == SafeTensors.DType.F16 && type == TensorType.F16);
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (short b : bits) {
                if (buf.remaining() < 4) {
                    flush(buf);
                }
                if (same) {
                    buf.putShort(b);
                    continue;
                }
                float v = stored == SafeTensors.DType.BF16 ? Float.intBitsToFloat((b & 0xffff) << 16) : SafeTensors.halfToFloat(b);
                switch (type) {
                    case F32 -> buf.putFloat(v);
                    case F16 -> buf.putShort(SafeTensors.floatToHalf(v));
                    case BF16 -> buf.putShort(floatToBfloat16(v));
                    default -> throw new IllegalStateException("no writer for " + type);
                }
            }
            flush(buf);
        }

        private void flush(ByteBuffer buf) throws IOException {
            out.write(buf.array(), 0, buf.position());
            written += buf.position();
            buf.clear();
        }

        void pad() throws IOException {
            while (written % ALIGNMENT != 0) {
                u8(0);
            }
        }
    }
}
