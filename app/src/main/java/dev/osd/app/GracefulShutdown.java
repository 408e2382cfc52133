package dev.osd.app;

import dev.osd.actors.Problem;
import dev.osd.actors.ServingSystem;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import sun.misc.Signal;

/**
 * How {@code serve} and {@code node} stop on SIGTERM or Ctrl-C: the first signal starts a drain (readiness goes
 * false, new requests hear 503 with Retry-After, requests in flight finish) for up to the grace period; a second
 * signal, or the grace period's end, ends what is still open at once, each request answered with an error. The
 * caller then closes the HTTP server and the stack, which saves the drafts.
 */
final class GracefulShutdown {

    private final CompletableFuture<Void> first = new CompletableFuture<>();
    private final CompletableFuture<Void> second = new CompletableFuture<>();

    /**
     * Takes over SIGTERM and SIGINT. The JVM's own handling of them (shutdown hooks at once) would end requests in
     * flight unanswered; this lets the caller drain first and exit normally.
     */
    static GracefulShutdown install() {
        GracefulShutdown g = new GracefulShutdown();
        for (String name : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(name), s -> g.signalled());
        }
        return g;
    }

    private void signalled() {
        if (!first.complete(null)) {
            second.complete(null);
        }
    }

    /** Completes on the first signal. */
    CompletableFuture<Void> signal() {
        return first;
    }

    /** Drains {@code system} for up to {@code grace}, then aborts what is left; returns when nothing runs. */
    void drain(ServingSystem system, Duration grace) throws InterruptedException {
        CompletableFuture<Void> drained = system.drain().toCompletableFuture();
        System.out.printf("draining: new requests are refused, those in flight have %d s to finish "
                + "(signal again to stop at once)%n", grace.toSeconds());
        try {
            CompletableFuture.anyOf(drained, second).get(grace.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // the grace period is over
        }
        if (!drained.isDone()) {
            System.out.println("stopping requests still in flight");
            system.abortAll(new Problem.Unavailable("the server is shutting down"));
            try {
                drained.get(10, TimeUnit.SECONDS);
            } catch (TimeoutException | ExecutionException e) {
                System.out.println("some requests did not answer within 10 s of their abort");
            }
        }
    }
}
