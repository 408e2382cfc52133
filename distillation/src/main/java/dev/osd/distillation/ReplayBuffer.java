package dev.osd.distillation;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Predicate;

/**
 * The records one draft learns from, in bounded memory. New records wait as <em>fresh</em> until an update
 * takes them; trained records stay in a window of the most <em>recent</em> ones, and records that leave that
 * window enter a <em>reservoir</em> (uniform reservoir sampling over all of them), so that when a query class
 * goes quiet some of its records remain to be replayed and the draft does not forget it. At most
 * {@code fresh + recent + reservoir} records are held, each with at most k+1 target distributions. Thread
 * safe: serving threads add, the trainer takes and samples.
 */
public final class ReplayBuffer {

    private final int freshCapacity;
    private final int recentCapacity;
    private final int reservoirCapacity;
    private final Deque<DistillationRecord> fresh = new ArrayDeque<>();
    private final Deque<DistillationRecord> recent = new ArrayDeque<>();
    private final List<DistillationRecord> reservoir = new ArrayList<>();
    private final SplittableRandom random;
    private long retired;
    private long added;
    private long droppedUntrained;

    public ReplayBuffer(int freshCapacity, int recentCapacity, int reservoirCapacity, long seed) {
        if (freshCapacity < 1 || recentCapacity < 0 || reservoirCapacity < 0) {
            throw new IllegalArgumentException("replay buffer capacities must be positive (fresh) and non-negative");
        }
        this.freshCapacity = freshCapacity;
        this.recentCapacity = recentCapacity;
        this.reservoirCapacity = reservoirCapacity;
        this.random = new SplittableRandom(seed);
    }

    /** Adds a new record; when the trainer lags, the oldest untrained record moves to history untrained. */
    public synchronized void add(DistillationRecord record) {
        added++;
        fresh.addLast(record);
        if (fresh.size() > freshCapacity) {
            droppedUntrained++;
            remember(fresh.removeFirst());
        }
    }

    public synchronized int freshCount() {
        return fresh.size();
    }

    /** Takes up to {@code max} of the oldest fresh records for an update; they move to history. */
    public synchronized List<DistillationRecord> takeFresh(int max) {
        List<DistillationRecord> out = new ArrayList<>();
        while (!fresh.isEmpty() && out.size() < max) {
            DistillationRecord r = fresh.removeFirst();
            out.add(r);
            remember(r);
        }
        return out;
    }

    /** Up to n trained records drawn uniformly, without replacement, from the recent window and the reservoir. */
    public synchronized List<DistillationRecord> sample(int n) {
        int total = recent.size() + reservoir.size();
        List<DistillationRecord> all = new ArrayList<>(total);
        all.addAll(recent);
        all.addAll(reservoir);
        List<DistillationRecord> out = new ArrayList<>(Math.min(n, total));
        for (int i = 0; i < Math.min(n, total); i++) {
            int j = i + random.nextInt(total - i);
            DistillationRecord t = all.get(j);
            all.set(j, all.get(i));
            all.set(i, t);
            out.add(t);
        }
        return out;
    }

    private void remember(DistillationRecord r) {
        recent.addLast(r);
        if (recent.size() > recentCapacity) {
            retire(recent.removeFirst());
        }
    }

    private void retire(DistillationRecord r) {
        retired++;
        if (reservoir.size() < reservoirCapacity) {
            reservoir.add(r);
        } else if (reservoirCapacity > 0) {
            long j = random.nextLong(retired);
            if (j < reservoirCapacity) {
                reservoir.set((int) j, r);
            }
        }
    }

    /**
     * Up to {@code max} held records that {@code keep} accepts, newest first (fresh, then the recent window,
     * then the reservoir): the records of one kind of traffic, for a draft that is to learn that kind alone.
     */
    public synchronized List<DistillationRecord> matching(Predicate<DistillationRecord> keep, int max) {
        List<DistillationRecord> out = new ArrayList<>();
        for (Iterator<DistillationRecord> it = fresh.descendingIterator(); it.hasNext() && out.size() < max; ) {
            DistillationRecord r = it.next();
            if (keep.test(r)) {
                out.add(r);
            }
        }
        for (Iterator<DistillationRecord> it = recent.descendingIterator(); it.hasNext() && out.size() < max; ) {
            DistillationRecord r = it.next();
            if (keep.test(r)) {
                out.add(r);
            }
        }
        for (int i = reservoir.size() - 1; i >= 0 && out.size() < max; i--) {
            if (keep.test(reservoir.get(i))) {
                out.add(reservoir.get(i));
            }
        }
        return out;
    }

    /** Records held now: fresh, recent and reservoir. */
    public synchronized int size() {
        return fresh.size() + recent.size() + reservoir.size();
    }

    public synchronized int reservoirSize() {
        return reservoir.size();
    }

    /** Floats held by all records (the memory the buffer uses, in four-byte units). */
    public synchronized long floats() {
        long s = 0;
        for (DistillationRecord r : fresh) {
            s += r.size();
        }
        for (DistillationRecord r : recent) {
            s += r.size();
        }
        for (DistillationRecord r : reservoir) {
            s += r.size();
        }
        return s;
    }

    public synchronized long added() {
        return added;
    }

    /** Records that left the fresh queue untrained because the trainer lagged behind. */
    public synchronized long droppedUntrained() {
        return droppedUntrained;
    }
}
