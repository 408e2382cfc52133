package dev.osd.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;

/**
 * Key/value memory for up to {@code slots} sequences of up to {@code positions} tokens of one model shape.
 * A sequence owns one slot through a {@link KvCache}; sequences of one pool can run together in one batched
 * forward. A pool belongs to a configuration, not to one set of weights, so every version of a draft serves
 * from the same pool (a cache filled by one version must be truncated before another version extends it).
 *
 * <p>The storage depends on the {@link ServingBackend}. The CPU forward's is paged: per layer, blocks of
 * {@link #BLOCK} positions × kv_heads·head_dim floats for keys and for values, handed to a sequence as it
 * grows, given back when it rolls back past a block boundary or is released, and allocated only when first
 * used, so memory follows the tokens actually held. How many blocks there are is the pool's memory budget
 * ({@link #forBudget}); a sequence that needs a block when none is free cannot grow, which the caller checks
 * with {@link #freeBlocks} and {@link #blocksToGrow} before a forward. The DJL forward's is preallocated per layer,
 * (slots, positions + 1, kv_heads·head_dim), the extra last position scratch space for padded batch rows.
 */
public final class KvCachePool implements AutoCloseable {

    /** Positions per block of the paged storage. */
    public static final int BLOCK = 16;

    private final LlamaConfig config;
    private final ServingBackend backend;
    private final int slots;
    private final int positions;
    private final Deque<Integer> free = new ArrayDeque<>();
    private boolean closed;

    // the DJL forward's storage
    private final NDManager manager;
    final NDArray[] keys;
    final NDArray[] values;

    // the CPU forward's storage: [layer][block] -> (BLOCK, kv_heads * head_dim), null until first used
    final float[][][] keyBlocks;
    final float[][][] valueBlocks;
    private final int[] freeBlocks;
    private int freeBlockCount;

    /** A pool for models of {@code config} served by this JVM's backend, its memory under {@code parent}. */
    public KvCachePool(LlamaConfig config, int slots, int positions, NDManager parent) {
        this(config, slots, positions, parent, ServingBackend.current());
    }

    /**
     * A pool for models of {@code config} served by {@code backend}, with blocks for every slot's full
     * {@code positions} (paged storage).
     */
    public KvCachePool(LlamaConfig config, int slots, int positions, NDManager parent, ServingBackend backend) {
        this(config, slots, positions, Math.multiplyExact(slots, blocksFor(positions)), parent, backend);
    }

    /**
     * A pool whose memory is a budget rather than slots × positions: the paged storage gets as many blocks as
     * {@code budgetBytes} holds, shared by all slots, and one cache may grow to {@code maxContext} positions
     * or as far as the budget reaches, whichever is less. The DJL forward's dense storage gives each slot the
     * same share, so its caches hold budget / slots. Refused when the budget cannot hold one block.
     */
    public static KvCachePool forBudget(LlamaConfig config, int slots, int maxContext, long budgetBytes,
            NDManager parent, ServingBackend backend) {
        if (slots < 1) {
            throw new IllegalArgumentException("a cache pool needs at least one slot, got " + slots);
        }
        int context = Math.min(maxContext, config.maxPositionEmbeddings());
        long perBlock = blockBytes(config);
        if (backend == ServingBackend.DJL) {
            // one scratch position per slot besides the positions
            long perSlot = budgetBytes / slots / (perBlock / BLOCK);
            int positions = (int) Math.min(context, perSlot - 1);
            if (positions < 1) {
                throw new IllegalArgumentException("a key/value budget of " + budgetBytes + " bytes does not hold "
                        + slots + " caches of one position (" + perBlock / BLOCK + " bytes each)");
            }
            return new KvCachePool(config, slots, positions, parent, backend);
        }
        long blocks = budgetBytes / perBlock;
        if (blocks < 1) {
            throw new IllegalArgumentException("a key/value budget of " + budgetBytes + " bytes does not hold one "
                    + "block of " + BLOCK + " positions (" + perBlock + " bytes)");
        }
        int total = (int) Math.min(blocks, Integer.MAX_VALUE / BLOCK);
        int positions = (int) Math.min(context, (long) total * BLOCK);
        return new KvCachePool(config, slots, positions, total, parent, backend);
    }

    /** Bytes of one block, keys and values of every layer (as the paged storage holds them: float32). */
    public static long blockBytes(LlamaConfig config) {
        return 2L * config.numHiddenLayers() * BLOCK * config.numKeyValueHeads() * config.headDim() * Float.BYTES;
    }

    private KvCachePool(LlamaConfig config, int slots, int positions, int totalBlocks, NDManager parent,
            ServingBackend backend) {
        if (slots < 1) {
            throw new IllegalArgumentException("a cache pool needs at least one slot, got " + slots);
        }
        if (positions < 1 || positions > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("positions must be in [1, " + config.maxPositionEmbeddings()
                    + "], got " + positions);
        }
        this.config = config;
        this.backend = backend;
        this.slots = slots;
        this.positions = positions;
        int layers = config.numHiddenLayers();
        long kvDim = (long) config.numKeyValueHeads() * config.headDim();
        if (backend == ServingBackend.DJL) {
            this.manager = parent.newSubManager();
            Shape shape = new Shape(slots, positions + 1, kvDim);
            keys = new NDArray[layers];
            values = new NDArray[layers];
            for (int l = 0; l < layers; l++) {
                keys[l] = manager.zeros(shape, DataType.FLOAT32);
                values[l] = manager.zeros(shape, DataType.FLOAT32);
            }
            keyBlocks = null;
            valueBlocks = null;
            freeBlocks = null;
        } else {
            this.manager = null;
            keys = null;
            values = null;
            int blocks = totalBlocks;
            keyBlocks = new float[layers][blocks][];
            valueBlocks = new float[layers][blocks][];
            freeBlocks = new int[blocks];
            for (int b = 0; b < blocks; b++) {
                freeBlocks[b] = blocks - 1 - b; // lowest numbers handed out first
            }
            freeBlockCount = blocks;
        }
        for (int s = 0; s < slots; s++) {
            free.add(s);
        }
    }

    static int blocksFor(int positions) {
        return (positions + BLOCK - 1) / BLOCK;
    }

    public LlamaConfig config() {
        return config;
    }

    public ServingBackend backend() {
        return backend;
    }

    /** Longest sequence that a cache of this pool holds. */
    public int positions() {
        return positions;
    }

    public int slots() {
        return slots;
    }

    /** The scratch row that padded batch rows of the DJL forward write to. */
    int scratchPosition() {
        return positions;
    }

    public synchronized int freeSlots() {
        return free.size();
    }

    /** Blocks of the paged storage in use and in all (0 and 0 for the DJL backend's dense storage). */
    public synchronized int usedBlocks() {
        return freeBlocks == null ? 0 : freeBlocks.length - freeBlockCount;
    }

    public int totalBlocks() {
        return freeBlocks == null ? 0 : freeBlocks.length;
    }

    /** Blocks not held by any cache (paged storage; 0 for the dense storage). */
    public synchronized int freeBlocks() {
        return freeBlocks == null ? 0 : freeBlockCount;
    }

    /**
     * Blocks that growing {@code cache} to {@code newLength} positions would take from the pool (0 for the
     * dense storage, whose positions are all there).
     */
    public int blocksToGrow(KvCache cache, int newLength) {
        return freeBlocks == null ? 0 : Math.max(0, blocksFor(newLength) - cache.blockCount());
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

    /** A free block, its memory allocated on first use. */
    synchronized int takeBlock() {
        if (freeBlockCount == 0) {
            throw new IllegalStateException("the key/value cache has no free block");
        }
        int block = freeBlocks[--freeBlockCount];
        if (keyBlocks[0][block] == null) {
            int size = BLOCK * config.numKeyValueHeads() * config.headDim();
            for (int l = 0; l < keyBlocks.length; l++) {
                keyBlocks[l][block] = new float[size];
                valueBlocks[l][block] = new float[size];
            }
        }
        return block;
    }

    synchronized void giveBack(int[] blocks, int from, int to) {
        for (int i = from; i < to; i++) {
            freeBlocks[freeBlockCount++] = blocks[i];
        }
    }

    synchronized boolean isClosed() {
        return closed;
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (manager != null) {
            manager.close();
        } else {
            for (int l = 0; l < keyBlocks.length; l++) {
                Arrays.fill(keyBlocks[l], null);
                Arrays.fill(valueBlocks[l], null);
            }
        }
    }
}
