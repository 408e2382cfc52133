package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code osd serve} as a user runs it, in its own JVM: it prints where to point a client, serves, learns, saves
 * its drafts when stopped with SIGTERM, and a restart resumes every draft from its checkpoint store.
 */
class ServeProcessIT {

    @TempDir
    Path state;

    ServeProcess start() throws Exception {
        return ServeProcess.start("3g", List.of("--state", state.toString()));
    }

    /**
     * SIGTERM through the handle (Process.destroy() would also close the pipe we read its last words from);
     * whether it stopped within 90 s. One that did not is killed, so that no JVM outlives the test.
     */
    static boolean stop(ServeProcess server) throws InterruptedException {
        server.process().toHandle().destroy();
        boolean stopped = server.process().waitFor(90, TimeUnit.SECONDS);
        if (!stopped) {
            server.process().destroyForcibly();
        }
        return stopped;
    }

    static long version(HttpClientSupport api, String draft) {
        for (JsonElement d : api.get("/v1/drafts").json().getAsJsonArray("data")) {
            if (d.getAsJsonObject().get("name").getAsString().equals(draft)) {
                return d.getAsJsonObject().get("version").getAsLong();
            }
        }
        throw new AssertionError("no draft " + draft);
    }

    @Test
    void serveLearnsSavesOnSigtermAndResumesFromItsStores() throws Exception {
        ServeProcess first = start();
        long learned;
        try {
            HttpClientSupport api = new HttpClientSupport(first.url());
            assertEquals(200, api.get("/health/ready").status());
            for (int i = 0; i < 8; i++) {
                JsonObject body = HttpApiTest.completion(HttpApiTest.prompt("math", 200 + i), 40);
                assertEquals(200, api.post("/v1/completions", body).status());
            }
            // updates run on the trainer's thread after the responses
            learned = Eventually.awaitAssert(Duration.ofSeconds(30), () -> {
                long v = version(api, "math");
                assertTrue(v > 0, "the math draft learned online");
                return v;
            });
        } catch (Throwable t) {
            stop(first);
            throw t;
        }
        assertTrue(stop(first), "serve stops on SIGTERM");
        first.reader().join(10_000);
        // a JVM that ran its shutdown hooks after SIGTERM exits with 143 (128 + 15)
        assertTrue(first.process().exitValue() == 143 || first.process().exitValue() == 0, first.output().toString());
        assertTrue(first.output().toString().contains("stopped"), first.output().toString());
        Path store = state.resolve("drafts").resolve("math");
        try (Stream<Path> files = Files.list(store)) {
            assertTrue(files.anyMatch(f -> f.getFileName().toString().endsWith(".json")), "a saved version in " + store);
        }

        ServeProcess second = start();
        try {
            HttpClientSupport api = new HttpClientSupport(second.url());
            long resumed = version(api, "math");
            assertTrue(resumed >= learned, "resumed at version " + resumed + " (had " + learned + ")");
            assertEquals(0, version(api, "code"), "a draft that never learned starts from the base draft");
            assertNotNull(api.post("/v1/completions", HttpApiTest.completion("Hello", 4)).json());
        } finally {
            stop(second);
        }
    }
}
