package dev.osd.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The text a draft has served, for model-free proposals: a ring of the most recent {@code capacity} tokens
 * (whole sequences, prompt and output, one after the other; the oldest are overwritten) and, per n-gram order,
 * a hashed table from an n-gram to where it last occurred, chained to its earlier occurrences. Looking up a
 * sequence's last n tokens gives the tokens that followed them, most recent first. Memory is fixed when the
 * index is made ({@link #memoryBytes()}) and does not grow with what is added.
 *
 * <p>Not thread-safe: one owner (a draft replica, or one decoder) adds and looks up.
 */
public final class SuffixIndex {

    /** The n-gram lengths matched, shortest first. */
    static final int[] ORDERS = {1, 2, 3, 4, 6, 8, 12, 16};

    private static final int SEPARATOR = -1;
    // bounds the work of one lookup when a frequent n-gram has a long chain
    private static final int MAX_WALK = 64;

    private final int capacity;
    private final int[] ring;
    // the global position of the next token added; ring[pos % capacity] holds position pos
    private long end;
    private final long[] heads;
    private final int mask;
    // per order, per ring slot: the previous position whose n-gram had the same table slot (-1: none)
    private final long[] previous;

    /** @param capacity tokens held (separators between sequences count as one each) */
    public SuffixIndex(int capacity) {
        if (capacity < 16) {
            throw new IllegalArgumentException("a suffix index holds at least 16 tokens, not " + capacity);
        }
        this.capacity = capacity;
        this.ring = new int[capacity];
        int table = Integer.highestOneBit(Math.max(16, capacity * 2 - 1)) << 1;
        this.heads = new long[table];
        this.mask = table - 1;
        Arrays.fill(heads, -1);
        this.previous = new long[capacity * ORDERS.length];
        Arrays.fill(previous, -1);
    }

    /** Bytes the index holds, whatever was added. */
    public long memoryBytes() {
        return 4L * ring.length + 8L * heads.length + 8L * previous.length;
    }

    public int capacity() {
        return capacity;
    }

    /** Tokens held now (at most the capacity). */
    public int tokensHeld() {
        return (int) Math.min(end, capacity);
    }

    /** The global position of the oldest token still held. */
    long oldest() {
        return Math.max(0, end - capacity);
    }

    /** Adds a whole sequence (prompt and output); the oldest tokens make room. */
    public void add(int[] sequence) {
        for (int t : sequence) {
            append(t);
        }
        append(SEPARATOR);
    }

    private void append(int token) {
        long pos = end;
        ring[(int) (pos % capacity)] = token;
        end++;
        // chains reach back only to positions still held, so a slot's old chain link is dropped with its token
        for (int o = 0; o < ORDERS.length; o++) {
            previous[o * capacity + (int) (pos % capacity)] = -1;
        }
        if (token == SEPARATOR) {
            return;
        }
        // the n tokens before pos, followed by the token at pos: index pos under each order
        for (int o = 0; o < ORDERS.length; o++) {
            int n = ORDERS[o];
            if (pos - n < oldest()) {
                break;
            }
            long h = o + 1;
            boolean whole = true;
            for (long i = pos - n; i < pos; i++) {
                int t = ring[(int) (i % capacity)];
                if (t == SEPARATOR) {
                    whole = false;
                    break;
                }
                h = mix(h, t);
            }
            if (!whole) {
                break; // a longer n-gram would cross the separator too
            }
            int slot = (int) (h & mask);
            previous[o * capacity + (int) (pos % capacity)] = heads[slot];
            heads[slot] = pos;
        }
    }

    static long mix(long h, int token) {
        h = (h ^ token) * 0x9E3779B97F4A7C15L;
        return h ^ (h >>> 29);
    }

    /**
     * What followed the last {@code ORDERS[order]} tokens of {@code sequence} where they occurred before, most
     * recent first: up to {@code most} continuations of up to {@code length} tokens each (a continuation ends at
     * the end of its sequence).
     */
    List<int[]> continuations(int[] sequence, int order, int length, int most) {
        int n = ORDERS[order];
        List<int[]> out = new ArrayList<>();
        if (sequence.length < n || end == 0) {
            return out;
        }
        long h = order + 1;
        for (int i = sequence.length - n; i < sequence.length; i++) {
            h = mix(h, sequence[i]);
        }
        long pos = heads[(int) (h & mask)];
        long oldest = oldest();
        for (int walked = 0; pos >= 0 && walked < MAX_WALK && out.size() < most; walked++) {
            if (pos - n < oldest) {
                break; // older links point at overwritten tokens
            }
            if (matches(sequence, pos, n)) {
                int[] c = new int[length];
                int got = 0;
                for (long p = pos; p < end && got < length; p++) {
                    int t = ring[(int) (p % capacity)];
                    if (t == SEPARATOR) {
                        break;
                    }
                    c[got++] = t;
                }
                if (got > 0) {
                    out.add(Arrays.copyOf(c, got));
                }
            }
            long next = previous[order * capacity + (int) (pos % capacity)];
            if (next >= pos) {
                break;
            }
            pos = next;
        }
        return out;
    }

    private boolean matches(int[] sequence, long pos, int n) {
        for (int i = 0; i < n; i++) {
            if (ring[(int) ((pos - n + i) % capacity)] != sequence[sequence.length - n + i]) {
                return false;
            }
        }
        return true;
    }
}
