package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15 #7: {@code osd serve} in its own JVM under SIGTERM with streams in flight. Every stream gets its
 * ending: after one SIGTERM they finish whole; after a second one they end at once with an error event. Then
 * the process exits by itself.
 */
class ServeDrainIT {

    @TempDir
    Path dir;

    ServeProcess start(String config) throws Exception {
        Path conf = Files.writeString(dir.resolve("serve.conf"), config);
        return ServeProcess.start("2g", List.of("--no-training", "--state", dir.resolve("state").toString(),
                "--config", conf.toString()));
    }

    /** A streamed completion over a raw socket: counts down {@code started} at its first event, returns it all. */
    static CompletableFuture<String> stream(int port, CountDownLatch started) {
        return CompletableFuture.supplyAsync(() -> {
            String body = "{\"prompt\": \"Hello\", \"max_tokens\": 240, \"ignore_eos\": true, \"stream\": true, "
                    + "\"temperature\": 0, \"speculation\": {\"enabled\": false}}";
            StringBuilder got = new StringBuilder();
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(120_000);
                s.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        + "Content-Type: application/json\r\nContent-Length: "
                        + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                        .getBytes(StandardCharsets.UTF_8));
                InputStream in = s.getInputStream();
                boolean first = true;
                for (int c = in.read(); c >= 0; c = in.read()) {
                    got.append((char) c);
                    if (first && got.indexOf("data: {") >= 0) {
                        first = false;
                        started.countDown();
                    }
                    if (got.toString().endsWith("data: [DONE]\n\n")) {
                        break;
                    }
                }
            } catch (IOException e) {
                got.append("\n<").append(e).append('>');
            }
            return got.toString();
        });
    }

    static void awaitOutput(ServeProcess s, String text) throws Exception {
        Eventually.awaitAssert(Duration.ofSeconds(60), () -> assertTrue(s.output().toString().contains(text),
                s.output().toString()));
    }

    @Test
    void sigtermLetsEveryStreamInFlightFinishThenExits() throws Exception {
        ServeProcess s = start("osd.serve.shutdown-grace = 60s\n");
        CountDownLatch started = new CountDownLatch(3);
        List<CompletableFuture<String>> streams = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            streams.add(stream(s.port(), started));
        }
        assertTrue(started.await(60, TimeUnit.SECONDS), "three streams under way");
        s.process().toHandle().destroy(); // SIGTERM
        for (CompletableFuture<String> f : streams) {
            String got = f.get(120, TimeUnit.SECONDS);
            assertTrue(got.endsWith("data: [DONE]\n\n"), got);
            assertTrue(got.contains("\"finish_reason\":\"length\""), got);
        }
        assertTrue(s.process().waitFor(90, TimeUnit.SECONDS), "serve exits after its drain");
        assertEquals(0, s.process().exitValue(), s.output().toString());
        assertTrue(s.output().toString().contains("draining:"), s.output().toString());
        assertTrue(s.output().toString().contains("stopped"), s.output().toString());
    }

    @Test
    void aSecondSigtermEndsWhatRunsAtOnceWithAnAnswer() throws Exception {
        ServeProcess s = start("osd.serve.shutdown-grace = 10m\n");
        CountDownLatch started = new CountDownLatch(4);
        List<CompletableFuture<String>> streams = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            streams.add(stream(s.port(), started));
        }
        assertTrue(started.await(60, TimeUnit.SECONDS), "four streams under way");
        s.process().toHandle().destroy();
        awaitOutput(s, "draining:");
        s.process().toHandle().destroy();
        for (CompletableFuture<String> f : streams) {
            String got = f.get(60, TimeUnit.SECONDS);
            // finished in time, or ended by the second signal with the error object: never cut off unanswered
            assertTrue(got.endsWith("data: [DONE]\n\n"), got);
            assertTrue(got.contains("\"finish_reason\":\"length\"") || got.contains("\"code\":\"unavailable\""), got);
        }
        // long before the ten-minute grace period
        assertTrue(s.process().waitFor(60, TimeUnit.SECONDS), "serve stops on the second signal");
        assertTrue(s.output().toString().contains("stopped"), s.output().toString());
    }
}
