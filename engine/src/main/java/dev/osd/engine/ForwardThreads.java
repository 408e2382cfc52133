package dev.osd.engine;

import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Extra cores for the large matrix products of the CPU forward: {@code osd.engine.threads} (default 1, set by
 * the launcher from {@code OSD_THREADS}) threads in all, the caller being one of them. A product is split by
 * output rows only when it is large enough to pay for the hand-off (a target's verification or prefill, not
 * a small draft's decode), and only when no other forward holds the helpers at that moment, so a draft never
 * waits behind a target for them: it runs on its own thread instead. Helpers spin briefly between the
 * products of one forward, then park.
 */
final class ForwardThreads {

    /** A share of a split product: part {@code part} of {@code parts}. */
    interface Share {
        void run(int part, int parts);
    }

    static final int THREADS = threads(System.getProperty("osd.engine.threads"));
    private static final long MIN_WORK = 1L << 20; // multiply-adds below which one thread is faster
    private static final int SPINS = 2_000;
    private static final ReentrantLock LOCK = new ReentrantLock();
    private static final Helper[] HELPERS = new Helper[THREADS - 1];

    static {
        for (int i = 0; i < HELPERS.length; i++) {
            HELPERS[i] = new Helper(i + 1);
            HELPERS[i].start();
        }
    }

    private ForwardThreads() {
    }

    /** The configured thread count: unset means 1; anything but a positive integer is refused, never ignored. */
    static int threads(String value) {
        if (value == null || value.isBlank()) {
            return 1;
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new IllegalArgumentException("osd.engine.threads (OSD_THREADS) must be a positive integer, was '"
                + value + "'");
    }

    /** Whether a product of {@code work} multiply-adds is worth handing to the helpers. */
    static boolean worthSplitting(long work) {
        return HELPERS.length > 0 && work >= MIN_WORK;
    }

    /** Runs {@code share} split over the helpers, or inline when another forward holds them. */
    static void run(Share share) {
        if (HELPERS.length == 0 || !LOCK.tryLock()) {
            share.run(0, 1);
            return;
        }
        try {
            int parts = THREADS;
            for (Helper h : HELPERS) {
                h.assign(share, parts);
            }
            Throwable failure = null;
            try {
                share.run(0, parts);
            } catch (Throwable t) {
                failure = t;
            }
            for (Helper h : HELPERS) {
                Throwable t = h.await();
                if (failure == null) {
                    failure = t;
                }
            }
            if (failure instanceof RuntimeException e) {
                throw e;
            }
            if (failure instanceof Error e) {
                throw e;
            }
        } finally {
            LOCK.unlock();
        }
    }

    private static final class Helper extends Thread {
        private final int part;
        private volatile Share share;
        private volatile int parts;
        private volatile Throwable failure;

        Helper(int part) {
            super("osd-forward-" + part);
            this.part = part;
            setDaemon(true);
        }

        void assign(Share s, int n) {
            failure = null;
            parts = n;
            share = s; // publishes parts
            LockSupport.unpark(this);
        }

        Throwable await() {
            while (share != null) {
                Thread.onSpinWait();
            }
            return failure;
        }

        @Override
        public void run() {
            while (true) {
                Share s;
                int spins = 0;
                while ((s = share) == null) {
                    if (++spins < SPINS) {
                        Thread.onSpinWait();
                    } else {
                        LockSupport.park(this);
                    }
                }
                try {
                    s.run(part, parts);
                } catch (Throwable t) {
                    failure = t;
                }
                share = null;
            }
        }
    }
}
