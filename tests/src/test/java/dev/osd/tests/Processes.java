package dev.osd.tests;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Runs a program to its end with a bound: its output is read on a thread of its own while this one waits for
 * the exit, so a program that never ends (or a child that keeps the pipe open) fails the test instead of
 * hanging it. Reading all the output first and waiting afterwards has no bound at all.
 */
final class Processes {

    /** {@code exited}: it ended within the limit (else it was killed); {@code out}: its standard output. */
    record Result(boolean exited, int code, String out) {
        boolean ok() {
            return exited && code == 0;
        }
    }

    private Processes() {
    }

    static Result run(ProcessBuilder builder, Duration limit) throws IOException, InterruptedException {
        Process p = builder.start();
        // ByteArrayOutputStream's methods are synchronized: the reader writes while this thread may read
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread reader = new Thread(() -> {
            try (InputStream in = p.getInputStream()) {
                in.transferTo(out);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, "output of " + builder.command().get(0));
        reader.setDaemon(true);
        reader.start();
        boolean exited = p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
        if (!exited) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        reader.join(Duration.ofSeconds(10).toMillis());
        return new Result(exited, exited ? p.exitValue() : -1, out.toString(StandardCharsets.UTF_8));
    }

    /** Whether {@code command} runs and succeeds within 30 s: is a program there at all. */
    static boolean runs(String... command) {
        try {
            return run(new ProcessBuilder(command).redirectErrorStream(true), Duration.ofSeconds(30)).ok();
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
