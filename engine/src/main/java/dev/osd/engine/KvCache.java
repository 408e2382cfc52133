package dev.osd.engine;

/**
 * The key/value cache of one sequence: a slot in a {@link KvCachePool} and how many positions of it are
 * valid. A forward appends; {@link #truncate} rolls back after a rejected proposal; {@link #close} releases
 * the slot. Not thread-safe: one sequence is driven by one caller at a time.
 */
public final class KvCache implements AutoCloseable {

    private final KvCachePool pool;
    private final int slot;
    private int length;
    private boolean released;

    KvCache(KvCachePool pool, int slot) {
        this.pool = pool;
        this.slot = slot;
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

    void advance(int n) {
        length += n;
    }

    /** Forgets every position from {@code newLength} on (rollback to the accepted prefix). */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate a cache of length " + length + " to " + newLength);
        }
        length = newLength;
    }

    void checkUsable() {
        if (released) {
            throw new IllegalStateException("cache was released");
        }
    }

    public boolean isReleased() {
        return released;
    }

    @Override
    public void close() {
        if (!released) {
            released = true;
            pool.release(slot);
        }
    }
}
