package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

    record Server(Process process, String url, StringBuffer output, Thread reader) {
    }

    Server start() throws Exception {
        Path root = EmbeddedModelsTest.repositoryRoot();
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx3g", "--add-modules", "jdk.incubator.vector", "-Dosd.home=" + root, "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1",
                "-cp", System.getProperty("java.class.path"), "dev.osd.app.Osd", "serve", "--port", "0",
                "--state", state.toString()).redirectErrorStream(true).start();
        StringBuffer output = new StringBuffer();
        CompletableFuture<String> url = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            Pattern at = Pattern.compile("OSD serves '.*' at (http://\\S+)");
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    output.append(line).append('\n');
                    Matcher m = at.matcher(line);
                    if (m.find()) {
                        url.complete(m.group(1));
                    }
                }
            } catch (IOException e) {
                url.completeExceptionally(e);
            }
            url.completeExceptionally(new IllegalStateException("serve ended: " + output));
        });
        reader.setDaemon(true);
        reader.start();
        try {
            return new Server(p, url.get(120, TimeUnit.SECONDS), output, reader);
        } catch (Exception e) {
            p.destroyForcibly();
            throw e;
        }
    }

    /**
     * SIGTERM through the handle (Process.destroy() would also close the pipe we read its last words from);
     * whether it stopped within 90 s. One that did not is killed, so that no JVM outlives the test.
     */
    static boolean stop(Server server) throws InterruptedException {
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
        Server first = start();
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

        Server second = start();
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
