package dev.osd.drafts;

import ai.djl.ndarray.NDManager;
import dev.osd.engine.CheckpointException;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import dev.osd.engine.SafeTensors;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A draft version's weights as bytes, for sending to replicas on other nodes: each tensor's name, shape and
 * float32 values (little-endian); with a SHA-256 over the bytes so the receiver knows it has all of it, right.
 */
public final class WeightsWire {

    private WeightsWire() {
    }

    public static byte[] encode(LlamaWeights weights) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            Map<String, SafeTensors.Tensor> host = weights.toHost();
            out.writeInt(host.size());
            for (Map.Entry<String, SafeTensors.Tensor> e : host.entrySet()) {
                out.writeUTF(e.getKey());
                long[] shape = e.getValue().shape();
                out.writeInt(shape.length);
                for (long d : shape) {
                    out.writeLong(d);
                }
                float[] values = e.getValue().values();
                ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(values);
                out.writeInt(values.length);
                out.write(b.array());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** The weights in {@code bytes}, checked against the draft's configuration tensor by tensor. */
    public static LlamaWeights decode(byte[] bytes, LlamaConfig config, NDManager parent) {
        Map<String, SafeTensors.Tensor> host = new LinkedHashMap<>();
        Path source = Path.of("<wire>");
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                String name = in.readUTF();
                long[] shape = new long[in.readInt()];
                for (int d = 0; d < shape.length; d++) {
                    shape[d] = in.readLong();
                }
                float[] values = new float[in.readInt()];
                byte[] raw = in.readNBytes(values.length * 4);
                if (raw.length != values.length * 4) {
                    throw new CheckpointException(source, name, "truncated");
                }
                ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
                host.put(name, new SafeTensors.Tensor(shape, values));
            }
        } catch (IOException e) {
            throw new CheckpointException(source, null, "unreadable weights: " + e.getMessage(), e);
        }
        return LlamaWeights.fromHost(config, host, source, parent);
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A version of {@code draft} from received bytes. */
    public static DraftVersion version(String draft, long version, long parent, byte[] bytes, LlamaConfig config,
            NDManager manager) {
        return new DraftVersion(draft, version, parent, LlamaModel.of(decode(bytes, config, manager)));
    }
}
