package dev.osd.app;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF parser written from the format's description, independent of {@link GgufWriter}, to read its
 * files back in tests: header, metadata (values as Long, Integer, Float, Boolean, String or a List),
 * tensor infos and, through {@link #values}, tensor data as float32.
 */
final class GgufReader {

    record TensorInfo(String name, long[] dims, int type, long offset) {
    }

    final int magic;
    final int version;
    final Map<String, Object> metadata = new LinkedHashMap<>();
    final Map<String, Integer> metadataTypes = new LinkedHashMap<>();
    final Map<String, TensorInfo> tensors = new LinkedHashMap<>();
    final long dataStart;
    final long fileSize;
    private final ByteBuffer buf;

    GgufReader(Path file) throws IOException {
        buf = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        fileSize = buf.capacity();
        magic = buf.getInt();
        version = buf.getInt();
        long tensorCount = buf.getLong();
        long kvCount = buf.getLong();
        for (long i = 0; i < kvCount; i++) {
            String key = string();
            int type = buf.getInt();
            metadataTypes.put(key, type);
            metadata.put(key, value(type));
        }
        for (long i = 0; i < tensorCount; i++) {
            String name = string();
            int nDims = buf.getInt();
            long[] dims = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                dims[d] = buf.getLong();
            }
            tensors.put(name, new TensorInfo(name, dims, buf.getInt(), buf.getLong()));
        }
        long alignment = ((Number) metadata.getOrDefault("general.alignment", 32L)).longValue();
        dataStart = (buf.position() + alignment - 1) / alignment * alignment;
    }

    private String string() {
        byte[] bytes = new byte[(int) buf.getLong()];
        buf.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private Object value(int type) {
        switch (type) {
            case 0: return (long) (buf.get() & 0xff);
            case 4: return buf.getInt() & 0xffff_ffffL;
            case 5: return buf.getInt();
            case 6: return buf.getFloat();
            case 7: {
                byte b = buf.get();
                if (b != 0 && b != 1) {
                    throw new IllegalStateException("bool byte " + b);
                }
                return b == 1;
            }
            case 8: return string();
            case 9: {
                int elementType = buf.getInt();
                long n = buf.getLong();
                List<Object> list = new ArrayList<>();
                for (long i = 0; i < n; i++) {
                    list.add(value(elementType));
                }
                return list;
            }
            case 10: return buf.getLong();
            default: throw new IllegalStateException("value type " + type + " not read by this test parser");
        }
    }

    /** A tensor's data (F32, F16 or BF16) in file order, that is row-major with dims[0] the fastest. */
    float[] values(String name) {
        TensorInfo t = tensors.get(name);
        long n = 1;
        for (long d : t.dims) {
            n *= d;
        }
        float[] out = new float[(int) n];
        int at = (int) (dataStart + t.offset);
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (t.type) {
                case 0 -> buf.getFloat(at + 4 * i);
                case 1 -> halfToFloat(buf.getShort(at + 2 * i));
                case 30 -> Float.intBitsToFloat((buf.getShort(at + 2 * i) & 0xffff) << 16); // BF16
                default -> throw new IllegalStateException("tensor type " + t.type + " not read by this test parser");
            };
        }
        return out;
    }

    static float halfToFloat(short h) {
        int bits = h & 0xffff;
        boolean negative = (bits & 0x8000) != 0;
        int exponent = (bits >>> 10) & 0x1f;
        int mantissa = bits & 0x3ff;
        float magnitude;
        if (exponent == 0x1f) {
            magnitude = mantissa == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
        } else if (exponent == 0) {
            magnitude = mantissa * 0x1p-24f;
        } else {
            magnitude = (1 + mantissa / 1024f) * (float) Math.pow(2, exponent - 15);
        }
        return negative ? -magnitude : magnitude;
    }
}
