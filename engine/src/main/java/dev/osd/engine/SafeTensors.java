package dev.osd.engine;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header that maps
 * each tensor name to its dtype, shape and byte range, then the raw little-endian data. Float32, float16 and
 * bfloat16 are read, either widened to float32 ({@link #read}) or as stored ({@link #readStored}); every
 * inconsistency is refused naming the file and the tensor. Writing streams one tensor at a time, so a
 * checkpoint larger than the heap can be written from a generator.
 */
public final class SafeTensors {

    /** The storage types this engine reads and writes. */
    public enum DType {
        F32(4), F16(2), BF16(2);

        final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }

        /** Parses "float32", "float16", "bfloat16" or the safetensors names. */
        public static DType parse(String name) {
            switch (name.toLowerCase()) {
                case "f32": case "float32": case "float": return F32;
                case "f16": case "float16": case "half": return F16;
                case "bf16": case "bfloat16": return BF16;
                default: throw new IllegalArgumentException("unknown dtype '" + name + "' (float32, float16 or bfloat16)");
            }
        }
    }

    /** One tensor held as float32 values in row-major order. */
    public record Tensor(long[] shape, float[] values) {
        public Tensor {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            if (n != values.length) {
                throw new IllegalArgumentException("shape holds " + n + " values, data has " + values.length);
            }
        }
    }

    /**
     * One tensor as the file stores it: float32 values, or the raw 16-bit patterns of F16 and BF16 (no
     * float32 copy is made until {@link #values()} is asked for).
     *
     * @param bits the F16/BF16 bit patterns in row-major order, null for F32
     * @param floats the F32 values in row-major order, null for F16/BF16
     */
    public record StoredTensor(long[] shape, DType dtype, short[] bits, float[] floats) {
        public StoredTensor {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            int held = dtype == DType.F32 ? (floats == null ? -1 : floats.length) : (bits == null ? -1 : bits.length);
            if ((dtype == DType.F32) == (floats == null) || (dtype == DType.F32) != (bits == null) || n != held) {
                throw new IllegalArgumentException("a " + dtype + " tensor of " + n + " values holds "
                        + (floats != null ? floats.length + " floats" : "") + (bits != null ? bits.length + " 16-bit values" : ""));
            }
        }

        public int size() {
            return dtype == DType.F32 ? floats.length : bits.length;
        }

        /** The value at a row-major index, widened to float32. */
        public float get(int i) {
            return switch (dtype) {
                case F32 -> floats[i];
                case F16 -> halfToFloat(bits[i]);
                case BF16 -> bfloat16ToFloat(bits[i]);
            };
        }

        /** All values widened to float32: a new array for F16/BF16, the stored one for F32. */
        public float[] values() {
            if (dtype == DType.F32) {
                return floats;
            }
            float[] out = new float[bits.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = get(i);
            }
            return out;
        }

        public Tensor toTensor() {
            return new Tensor(shape, values());
        }
    }

    /** Produces one tensor's float32 values when a streamed write reaches it. */
    @FunctionalInterface
    public interface TensorSource {
        float[] values(String name, long[] shape) throws IOException;
    }

    private static final long MAX_HEADER = 100L << 20;
    private static final int ENCODE_CHUNK = 1 << 20; // values per write: bounds the encoding buffer

    private SafeTensors() {
    }

    /** Reads every tensor of a file, widened to float32. Nothing is returned unless the whole file is consistent. */
    public static Map<String, Tensor> read(Path file) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        readStored(file, null).forEach((name, t) -> tensors.put(name, t.toTensor()));
        return tensors;
    }

    /** Reads every tensor of a file in its stored dtype. */
    public static Map<String, StoredTensor> readStored(Path file) {
        return readStored(file, null);
    }

    /**
     * Reads the tensors of a file in their stored dtype: those named in {@code names} (each refused when
     * absent), or all when it is null. Every header entry is checked either way.
     */
    public static Map<String, StoredTensor> readStored(Path file, Set<String> names) {
        return readStored(file, names, null);
    }

    /** As {@link #readStored(Path, Set)}; a missing tensor's refusal adds why it was expected in this file. */
    static Map<String, StoredTensor> readStored(Path file, Set<String> names, String whyExpected) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < 8) {
                throw new CheckpointException(file, null, "truncated: " + size + " bytes, no header");
            }
            ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, lengthBytes, 0);
            long headerLength = lengthBytes.flip().getLong();
            if (headerLength <= 0 || headerLength > MAX_HEADER || 8 + headerLength > size) {
                throw new CheckpointException(file, null, "truncated or not safetensors: header of "
                        + headerLength + " bytes in a file of " + size);
            }
            ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
            readFully(channel, headerBytes, 8);
            JsonObject header;
            try {
                header = JsonParser.parseString(new String(headerBytes.array(), StandardCharsets.UTF_8)).getAsJsonObject();
            } catch (RuntimeException e) {
                throw new CheckpointException(file, null, "header is not a JSON object", e);
            }
            long dataStart = 8 + headerLength;
            long dataLength = size - dataStart;
            if (names != null) {
                for (String name : names) {
                    if (!header.has(name) || name.equals("__metadata__")) {
                        throw new CheckpointException(file, name, "missing tensor"
                                + (whyExpected == null ? "" : ": " + whyExpected));
                    }
                }
            }
            Map<String, StoredTensor> tensors = new LinkedHashMap<>();
            ByteBuffer chunk = ByteBuffer.allocateDirect(READ_CHUNK).order(ByteOrder.LITTLE_ENDIAN);
            for (Map.Entry<String, JsonElement> entry : header.entrySet()) {
                String name = entry.getKey();
                if (name.equals("__metadata__")) {
                    continue;
                }
                boolean wanted = names == null || names.contains(name);
                StoredTensor t = readTensor(file, channel, name, entry.getValue(), dataStart, dataLength, wanted,
                        chunk);
                if (wanted) {
                    tensors.put(name, t);
                }
            }
            return tensors;
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot be read (" + e + ")", e);
        }
    }

    /** Checks one header entry and, when wanted, reads its data (null otherwise). */
    private static StoredTensor readTensor(Path file, FileChannel channel, String name, JsonElement spec,
            long dataStart, long dataLength, boolean wanted, ByteBuffer chunk) throws IOException {
        DType dtype;
        long[] shape;
        long begin;
        long end;
        try {
            JsonObject o = spec.getAsJsonObject();
            String dtypeName = o.get("dtype").getAsString();
            try {
                dtype = DType.valueOf(dtypeName);
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(file, name, "unknown dtype " + dtypeName
                        + " (this engine reads F32, F16 and BF16)");
            }
            var shapeJson = o.get("shape").getAsJsonArray();
            shape = new long[shapeJson.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shapeJson.get(i).getAsLong();
            }
            var offsets = o.get("data_offsets").getAsJsonArray();
            begin = offsets.get(0).getAsLong();
            end = offsets.get(1).getAsLong();
        } catch (CheckpointException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new CheckpointException(file, name, "malformed header entry " + spec, e);
        }
        long count = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new CheckpointException(file, name, "negative dimension in shape");
            }
            count *= d;
        }
        if (end > dataLength) {
            throw new CheckpointException(file, name, "truncated: data ends at byte " + end
                    + " but the file holds " + dataLength + " bytes of data");
        }
        if (begin < 0 || end < begin || end - begin != count * dtype.bytes) {
            throw new CheckpointException(file, name, "byte range [" + begin + ", " + end + ") does not hold "
                    + count + " values of " + dtype);
        }
        if (count > Integer.MAX_VALUE - 8) {
            throw new CheckpointException(file, name, "too large for one array: " + count + " values");
        }
        if (!wanted) {
            return null;
        }
        // in chunks straight into the tensor's array: a whole-tensor buffer would double the memory a
        // checkpoint's load touches, and the JDK keeps a direct copy of the largest read cached per thread
        int n = (int) count;
        float[] values = dtype == DType.F32 ? new float[n] : null;
        short[] bits = dtype == DType.F32 ? null : new short[n];
        long at = dataStart + begin;
        int done = 0;
        while (done < n) {
            int take = Math.min(n - done, READ_CHUNK / dtype.bytes);
            chunk.clear().limit(take * dtype.bytes);
            readFully(channel, chunk, at);
            chunk.flip();
            if (values != null) {
                chunk.asFloatBuffer().get(values, done, take);
            } else {
                chunk.asShortBuffer().get(bits, done, take);
            }
            at += (long) take * dtype.bytes;
            done += take;
        }
        return new StoredTensor(shape, dtype, bits, values);
    }

    private static final int READ_CHUNK = 4 << 20;

    private static void readFully(FileChannel channel, ByteBuffer into, long position) throws IOException {
        while (into.hasRemaining()) {
            int n = channel.read(into, position);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + position);
            }
            position += n;
        }
    }

    /**
     * Writes tensors in name order, atomically: a temporary file beside the target is written, forced to
     * disk and renamed over it, so a reader never sees half a checkpoint.
     */
    public static void write(Path file, Map<String, Tensor> tensors, DType dtype) throws IOException {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        tensors.forEach((name, t) -> shapes.put(name, t.shape()));
        write(file, shapes, dtype, (name, shape) -> tensors.get(name).values());
    }

    /**
     * Writes tensors of the given shapes in name order, asking the source for each one's values only when
     * it is reached and encoding them in chunks, so that at most one tensor is held as float32. Atomic like
     * {@link #write(Path, Map, DType)}.
     */
    public static void write(Path file, Map<String, long[]> shapes, DType dtype, TensorSource source)
            throws IOException {
        Map<String, long[]> sorted = new TreeMap<>(shapes);
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", Map.of("format", "pt"));
        long offset = 0;
        for (Map.Entry<String, long[]> e : sorted.entrySet()) {
            long bytes = count(e.getValue()) * dtype.bytes;
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("dtype", dtype.name());
            spec.put("shape", e.getValue());
            spec.put("data_offsets", new long[] {offset, offset + bytes});
            header.put(e.getKey(), spec);
            offset += bytes;
        }
        byte[] headerJson = new Gson().toJson(header).getBytes(StandardCharsets.UTF_8);
        int padded = (headerJson.length + 7) / 8 * 8; // the format aligns data to 8 bytes with spaces
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(padded).put(headerJson);
            while (head.hasRemaining()) {
                head.put((byte) ' ');
            }
            writeFully(out, head.flip());
            ByteBuffer chunk = ByteBuffer.allocateDirect(ENCODE_CHUNK * dtype.bytes).order(ByteOrder.LITTLE_ENDIAN);
            for (Map.Entry<String, long[]> e : sorted.entrySet()) {
                float[] values = source.values(e.getKey(), e.getValue());
                if (values.length != count(e.getValue())) {
                    throw new IllegalArgumentException(e.getKey() + ": shape " + Arrays.toString(e.getValue())
                            + " holds " + count(e.getValue()) + " values, the source gave " + values.length);
                }
                for (int from = 0; from < values.length; from += ENCODE_CHUNK) {
                    int to = Math.min(values.length, from + ENCODE_CHUNK);
                    encode(values, from, to, dtype, chunk.clear());
                    writeFully(out, chunk.flip());
                }
            }
            out.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Bytes a tensor of this shape takes in a dtype. */
    public static long bytes(long[] shape, DType dtype) {
        return count(shape) * dtype.bytes;
    }

    private static long count(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    private static void encode(float[] values, int from, int to, DType dtype, ByteBuffer buf) {
        switch (dtype) {
            case F32 -> {
                for (int i = from; i < to; i++) {
                    buf.putFloat(values[i]);
                }
            }
            case F16 -> {
                for (int i = from; i < to; i++) {
                    buf.putShort(floatToHalf(values[i]));
                }
            }
            case BF16 -> {
                for (int i = from; i < to; i++) {
                    buf.putShort(toBfloat16(values[i]));
                }
            }
        }
    }

    static float bfloat16ToFloat(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    /** Round to nearest even, as PyTorch converts float32 to bfloat16. */
    static short toBfloat16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** IEEE 754 binary16 to float32 (Java 17 has no Float.float16ToFloat). */
    public static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exponent = (bits >>> 10) & 0x1f;
        int mantissa = bits & 0x3ff;
        if (exponent == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
        }
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f; // subnormal
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }

    /** float32 to IEEE 754 binary16, rounding to nearest even, overflowing to infinity. */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) {
            return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign;
            }
            mant |= 0x800000;
            int shift = 14 - e;
            int half = mant >>> shift;
            int rem = mant & ((1 << shift) - 1);
            int midpoint = 1 << (shift - 1);
            if (rem > midpoint || (rem == midpoint && (half & 1) == 1)) {
                half++;
            }
            return (short) (sign | half);
        }
        int half = (e << 10) | (mant >>> 13);
        int rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1)) {
            half++; // may carry into the exponent, which is the correct rounding
        }
        return (short) (sign | half);
    }

    private static void writeFully(FileChannel out, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            out.write(buf);
        }
    }
}
