package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real clients in their own processes against the API on the embedded models: the dashboard as headless
 * Chromium draws it after traffic, and the official OpenAI Node client, unchanged. Each is skipped where its
 * program is not installed (.ci/run installs Chromium; the OpenAI client needs Node.js and the npm registry).
 */
class HttpClientsIT {

    static final List<String> CHARTS = List.of("acceptance", "traffic", "tpot", "versions", "queues");
    static ServingStack stack;
    static HttpServer server;
    static HttpClientSupport api;

    @BeforeAll
    static void start() {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        stack = ServingStack.embedded("http-clients", new ServingStack.Options(true, true, null,
                new ServingSystem.Settings(32, 16, Duration.ofSeconds(2), 0.1, 1, 8), null));
        server = HttpServer.start(stack.system(), stack.tokenizer(), HttpServer.Settings.defaults().withPort(0));
        api = new HttpClientSupport(server.url());
    }

    @AfterAll
    static void stop() {
        server.close();
        stack.close();
    }

    /** Whether the dashboard's series {@code name} has a point to draw. */
    static boolean drawable(JsonObject dashboard, String name) {
        for (Map.Entry<String, JsonElement> series : dashboard.getAsJsonObject(name).entrySet()) {
            for (JsonElement v : series.getValue().getAsJsonArray()) {
                if (!v.isJsonNull()) {
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void theDashboardDrawsItsChartsInChromiumAfterTraffic(@TempDir Path profile) throws Exception {
        Path chromium = Path.of("/usr/bin/chromium");
        Assumptions.assumeTrue(Files.isExecutable(chromium),
                "Debian's chromium is not installed (.ci/run installs it)");
        for (int i = 0; i < 10; i++) {
            api.post("/v1/completions", HttpApiTest.completion(HttpApiTest.prompt(HttpApiTest.CLASSES.get(i % 5),
                    90 + i), 16));
            if (i % 3 == 0) {
                api.post("/v1/completions", HttpApiTest.speculationOff(HttpApiTest.completion(
                        HttpApiTest.prompt("sql", 90 + i), 16)));
            }
        }
        // the server samples for the dashboard once a second: until a sample covers the traffic, what the page
        // reads (/v1/dashboard) has nothing to draw in some chart
        Eventually.awaitAssert(Duration.ofSeconds(30), () -> {
            JsonObject d = api.get("/v1/dashboard").json();
            for (String series : List.of("acceptance", "traffic", "tpot_ms", "versions", "queues")) {
                assertTrue(drawable(d, series), series + " in " + d);
            }
        });
        Processes.Result page = Processes.run(new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox",
                "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile,
                "--virtual-time-budget=5000", "--dump-dom", server.url() + "/")
                .redirectError(ProcessBuilder.Redirect.DISCARD), Duration.ofSeconds(60));
        assertTrue(page.ok(), "chromium ended within 60 s with 0: " + page.exited() + ", " + page.code());
        String dom = page.out();
        for (String chart : CHARTS) {
            Matcher m = Pattern.compile("id=\"chart-" + chart + "\"[^>]*data-points=\"(\\d+)\"").matcher(dom);
            assertTrue(m.find(), "chart " + chart + " in the page: " + dom.substring(0, Math.min(500, dom.length())));
            assertTrue(Integer.parseInt(m.group(1)) > 0, "chart " + chart + " drew points");
        }
        assertTrue(dom.contains("<td>sql</td>"), "the drafts table lists the drafts");
        assertTrue(dom.contains("(this gateway)</td>") && dom.contains("<td>Up</td>"), "the cluster table: " + dom);
    }

    @Test
    void theOfficialOpenAiClientWorksUnchanged(@TempDir Path dir) throws Exception {
        // Node's openai package from the npm registry; skipped where Node.js or the registry is not at hand
        Assumptions.assumeTrue(Processes.runs("node", "--version") && Processes.runs("npm", "--version"),
                "no Node.js / npm here");
        try (InputStream script = HttpClientsIT.class.getResourceAsStream("/openai-client/check.mjs")) {
            Files.copy(script, dir.resolve("check.mjs"));
        }
        Files.writeString(dir.resolve("package.json"), "{\"name\": \"osd-openai-check\", \"private\": true}");
        Processes.Result install = Processes.run(new ProcessBuilder("npm", "install", "--no-audit", "--no-fund",
                "openai@4").directory(dir.toFile()).redirectErrorStream(true), Duration.ofSeconds(180));
        Assumptions.assumeTrue(install.ok(), "npm could not install the openai package: " + install.out());

        Processes.Result check = Processes.run(new ProcessBuilder("node", "check.mjs", server.url() + "/v1")
                .directory(dir.toFile()).redirectErrorStream(true), Duration.ofSeconds(120));
        String out = check.out().trim();
        assertTrue(check.ok(), "the client's script ended within 120 s with 0: " + out);
        JsonObject seen = JsonParser.parseString(out.substring(out.lastIndexOf('\n') + 1)).getAsJsonObject();
        assertEquals("osd-embedded", seen.get("model").getAsString());
        assertFalse(seen.get("completion").getAsString().isEmpty());
        // the client hands the response's extra object through: the speculation figures of a real round
        JsonObject spec = seen.getAsJsonObject("spec");
        int proposed = spec.get("num_draft_tokens").getAsInt();
        int accepted = spec.get("num_accepted_draft_tokens").getAsInt();
        assertTrue(seen.get("completion_tokens").getAsInt() > 1 && proposed > 0, "speculation ran: " + spec);
        assertTrue(accepted <= proposed, spec.toString());
        assertEquals((double) accepted / proposed, spec.get("draft_acceptance_rate").getAsDouble(), 1e-9);
        assertEquals("assistant", seen.get("chat_role").getAsString());
        assertEquals(seen.get("chat").getAsString(), seen.get("chat_streamed").getAsString(),
                "streamed chat = whole chat at temperature 0");
        assertTrue(seen.getAsJsonObject("stream_usage").get("completion_tokens").getAsInt() > 0);
        JsonObject error = seen.getAsJsonObject("error");
        assertEquals(400, error.get("status").getAsInt());
        assertEquals("temperature", error.get("param").getAsString());
    }
}
