package dev.osd.tests;

import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * Pekko's {@code awaitAssert} for tests that watch another process or an HTTP endpoint, where no actor or probe
 * can tell them when something happened: the check runs until it passes, and past the limit its last failure is
 * the test's.
 */
final class Eventually {

    /** How often the check runs again; Pekko's default for awaitAssert. */
    static final Duration INTERVAL = Duration.ofMillis(100);

    private Eventually() {
    }

    /** Runs {@code check} until it returns without an assertion failing, at most for {@code max}. */
    static <T> T awaitAssert(Duration max, Callable<T> check) throws Exception {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            try {
                return check.call();
            } catch (AssertionError e) {
                if (System.nanoTime() + INTERVAL.toNanos() > deadline) {
                    throw new AssertionError("not so within " + max + ": " + e.getMessage(), e);
                }
            }
            Thread.sleep(INTERVAL.toMillis());
        }
    }

    /** {@link #awaitAssert(Duration, Callable)} for a check that returns nothing. */
    static void awaitAssert(Duration max, Check check) throws Exception {
        awaitAssert(max, () -> {
            check.run();
            return null;
        });
    }

    /** An assertion that may throw. */
    interface Check {
        void run() throws Exception;
    }
}
