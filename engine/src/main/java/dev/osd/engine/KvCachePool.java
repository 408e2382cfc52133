package dev.osd.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Preallocated key/value memory for up to {@code slots} sequences of one model shape: per layer, one key and
 * one value tensor of shape (slots, positions + 1, kv_heads * head_dim). A sequence owns one slot through a
 * {@link KvCache}; sequences of one pool can be run together in one batched forward. The extra last
 * position is scratch space that padded rows of a batch write to and no one reads. A pool belongs to a
 * configuration, not to one set of weights, so every version of a draft serves from the same pool (a cache
 * filled by one version must be truncated before another version extends it).
 */
public final class KvCachePool implements AutoCloseable {

    private final LlamaConfig config;
    private final NDManager manager;
    private final int slots;
    private final int positions;
    final NDArray[] keys;
    final NDArray[] values;
    private final Deque<Integer> free = new ArrayDeque<>();
    private boolean closed;

    /** A pool for models of {@code config}, its memory under {@code parent}. */
    public KvCachePool(LlamaConfig config, int slots, int positions, NDManager parent) {
        if (slots < 1) {
            throw new IllegalArgumentException("a cache pool needs at least one slot, got " + slots);
        }
        if (positions < 1 || positions > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("positions must be in [1, " + config.maxPositionEmbeddings()
                    + "], got " + positions);
        }
        this.config = config;
        this.slots = slots;
        this.positions = positions;
        this.manager = parent.newSubManager();
        LlamaConfig c = config;
        int layers = c.numHiddenLayers();
        Shape shape = new Shape(slots, positions + 1, (long) c.numKeyValueHeads() * c.headDim());
        keys = new NDArray[layers];
        values = new NDArray[layers];
        for (int l = 0; l < layers; l++) {
            keys[l] = manager.zeros(shape, DataType.FLOAT32);
            values[l] = manager.zeros(shape, DataType.FLOAT32);
        }
        for (int s = 0; s < slots; s++) {
            free.add(s);
        }
    }

    public LlamaConfig config() {
        return config;
    }

    /** Longest sequence that a cache of this pool holds. */
    public int positions() {
        return positions;
    }

    public int slots() {
        return slots;
    }

    /** The scratch row that padded batch rows write to. */
    int scratchPosition() {
        return positions;
    }

    public synchronized int freeSlots() {
        return free.size();
    }

    /** Takes a free slot for a new sequence; refuses when every slot is in use. */
    public synchronized KvCache acquire() {
        if (closed) {
            throw new IllegalStateException("cache pool is closed");
        }
        Integer slot = free.poll();
        if (slot == null) {
            throw new IllegalStateException("all " + slots + " cache slots are in use");
        }
        return new KvCache(this, slot);
    }

    synchronized void release(int slot) {
        if (!closed) {
            free.add(slot);
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        manager.close();
    }
}
