package dev.osd.drafts;

import dev.osd.engine.DraftSource;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import dev.osd.engine.SafeTensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One immutable set of weights of a draft, numbered. Nothing mutates it after construction: training works
 * on its own copy and publishes a new version. Reference counted, because a request keeps serving the
 * version it started with while newer ones are published: whoever holds a version {@link #close}s it once,
 * and the weights are freed when the last holder lets go. A {@linkplain #sharing sharing} version serves a model
 * it does not own (the base draft, which every draft starts from until its trainer publishes): its last holder
 * leaves the model open, for the model's owner to close after every version over it.
 */
public final class DraftVersion implements DraftSource.Lease {

    private final String draft;
    private final long version;
    private final long parent;
    private final LlamaModel model;
    private final boolean ownsModel;
    private final AtomicInteger holders = new AtomicInteger(1);
    private volatile String checksum;

    /**
     * @param version this version, larger than every earlier version of the draft
     * @param parent the version it was trained from (or rolled back to), -1 for a base version
     * @param model its weights; the version owns them from now on
     */
    public DraftVersion(String draft, long version, long parent, LlamaModel model) {
        this(draft, version, parent, model, true);
    }

    private DraftVersion(String draft, long version, long parent, LlamaModel model, boolean ownsModel) {
        this.draft = draft;
        this.version = version;
        this.parent = parent;
        this.model = model;
        this.ownsModel = ownsModel;
    }

    /**
     * A version over a model it does not own: the caller keeps {@code model} open while any holder serves this
     * version and closes it itself, after the version is freed. Several drafts can serve one model this way.
     */
    public static DraftVersion sharing(String draft, long version, long parent, LlamaModel model) {
        return new DraftVersion(draft, version, parent, model, false);
    }

    /** Whether freeing this version closes its model (false for a {@linkplain #sharing sharing} version). */
    public boolean ownsModel() {
        return ownsModel;
    }

    public String draft() {
        return draft;
    }

    @Override
    public long version() {
        return version;
    }

    public long parent() {
        return parent;
    }

    /** The model of this version; valid while the caller holds the version. */
    @Override
    public LlamaModel model() {
        return model;
    }

    /** SHA-256 of the weights as little-endian float32, tensors in name order (weights that travel). */
    public String checksum() {
        String c = checksum;
        if (c == null) {
            c = checksum(model.weights());
            checksum = c;
        }
        return c;
    }

    static String checksum(LlamaWeights weights) {
        return checksum(weights.toHost());
    }

    static String checksum(Map<String, SafeTensors.Tensor> host) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (Map.Entry<String, SafeTensors.Tensor> e : new TreeMap<>(host).entrySet()) {
                sha.update(e.getKey().getBytes(StandardCharsets.UTF_8));
                float[] v = e.getValue().values();
                ByteBuffer buf = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                buf.asFloatBuffer().put(v);
                sha.update(buf);
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JRE", e);
        }
    }

    /** Another hold on this version; false when it has already been freed (its last holder let go). */
    public boolean retain() {
        while (true) {
            int n = holders.get();
            if (n == 0) {
                return false;
            }
            if (holders.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** Lets go of one hold; the last one frees the weights (a sharing version's stay with their owner). */
    @Override
    public void close() {
        int left = holders.decrementAndGet();
        if (left == 0) {
            if (ownsModel) {
                model.close();
            }
        } else if (left < 0) {
            throw new IllegalStateException("draft " + draft + " version " + version + " closed more often than held");
        }
    }

    /** Whether the last holder has let go (a sharing version's model may still serve other versions). */
    public boolean freed() {
        return holders.get() == 0;
    }

    @Override
    public String toString() {
        return draft + " v" + version;
    }
}
