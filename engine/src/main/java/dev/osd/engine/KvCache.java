package dev.osd.engine;

/**
 * The key/value cache of one sequence: a slot in a {@link KvCachePool}, how many positions of it are valid
 * and, for the paged storage, which blocks hold them. A forward appends; {@link #truncate} rolls back after a
 * rejected proposal; {@link #close} releases the slot and its blocks. Not thread-safe: one sequence is driven
 * by one caller at a time.
 */
public final class KvCache implements AutoCloseable {

    private final KvCachePool pool;
    private final int slot;
    private final int[] blocks; // block table of the paged storage, position p in blocks[p / BLOCK]
    private int blockCount;
    private int length;
    private boolean released;

    KvCache(KvCachePool pool, int slot) {
        this.pool = pool;
        this.slot = slot;
        this.blocks = pool.backend() == ServingBackend.CPU ? new int[KvCachePool.blocksFor(pool.positions())] : null;
    }

    /** Positions that hold keys and values. */
    public int length() {
        return length;
    }

    /** Positions still free. */
    public int remaining() {
        return pool.positions() - length;
    }

    public KvCachePool pool() {
        return pool;
    }

    int slot() {
        return slot;
    }

    /** Blocks this cache holds (paged storage). */
    int blockCount() {
        return blockCount;
    }

    /** The block that holds position {@code position} (paged storage). */
    int block(int position) {
        return blocks[position / KvCachePool.BLOCK];
    }

    /** Makes sure blocks exist for positions up to {@code newLength} (paged storage). */
    void reserve(int newLength) {
        int needed = KvCachePool.blocksFor(newLength);
        while (blockCount < needed) {
            blocks[blockCount++] = pool.takeBlock();
        }
    }

    void advance(int n) {
        length += n;
    }

    /** Forgets every position from {@code newLength} on (rollback to the accepted prefix). */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate a cache of length " + length + " to " + newLength);
        }
        length = newLength;
        if (blocks != null) {
            int keep = KvCachePool.blocksFor(newLength);
            if (keep < blockCount) {
                pool.giveBack(blocks, keep, blockCount);
                blockCount = keep;
            }
        }
    }

    void checkUsable() {
        if (released) {
            throw new IllegalStateException("cache was released");
        }
        if (pool.isClosed()) {
            throw new IllegalStateException("the cache's pool was closed");
        }
    }

    public boolean isReleased() {
        return released;
    }

    @Override
    public void close() {
        if (!released) {
            released = true;
            if (blocks != null) {
                pool.giveBack(blocks, 0, blockCount);
                blockCount = 0;
            }
            pool.release(slot);
        }
    }
}
