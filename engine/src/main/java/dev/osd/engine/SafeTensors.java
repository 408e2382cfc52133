package dev.osd.engine;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header that maps
 * each tensor name to its dtype, shape and byte range, then the raw little-endian data. Float32, float16 and
 * bfloat16 are read (into float32); every inconsistency is refused naming the file and the tensor.
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

    private static final long MAX_HEADER = 100L << 20;

    private SafeTensors() {
    }

    /** Reads every tensor of a file. Nothing is returned unless the whole file is consistent. */
    public static Map<String, Tensor> read(Path file) {
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
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> entry : header.entrySet()) {
                String name = entry.getKey();
                if (name.equals("__metadata__")) {
                    continue;
                }
                tensors.put(name, readTensor(file, channel, name, entry.getValue(), dataStart, dataLength));
            }
            return tensors;
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot be read (" + e + ")", e);
        }
    }

    private static Tensor readTensor(Path file, FileChannel channel, String name, JsonElement spec,
            long dataStart, long dataLength) throws IOException {
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
        ByteBuffer raw = ByteBuffer.allocate((int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, raw, dataStart + begin);
        raw.flip();
        float[] values = new float[(int) count];
        switch (dtype) {
            case F32 -> raw.asFloatBuffer().get(values);
            case F16 -> {
                for (int i = 0; i < values.length; i++) {
                    values[i] = halfToFloat(raw.getShort());
                }
            }
            case BF16 -> {
                for (int i = 0; i < values.length; i++) {
                    values[i] = Float.intBitsToFloat((raw.getShort() & 0xffff) << 16);
                }
            }
        }
        return new Tensor(shape, values);
    }

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
        Map<String, Tensor> sorted = new TreeMap<>(tensors);
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", Map.of("format", "pt"));
        long offset = 0;
        for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
            long bytes = (long) e.getValue().values().length * dtype.bytes;
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("dtype", dtype.name());
            spec.put("shape", e.getValue().shape());
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
            for (Tensor t : sorted.values()) {
                writeFully(out, encode(t.values(), dtype));
            }
            out.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static ByteBuffer encode(float[] values, DType dtype) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * dtype.bytes).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> {
                FloatBuffer fb = buf.asFloatBuffer();
                fb.put(values);
            }
            case F16 -> {
                for (float v : values) {
                    buf.putShort(floatToHalf(v));
                }
            }
            case BF16 -> {
                for (float v : values) {
                    buf.putShort(toBfloat16(v));
                }
            }
        }
        buf.position(0).limit(values.length * dtype.bytes);
        return buf;
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
    static float halfToFloat(short h) {
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
    static short floatToHalf(float f) {
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
