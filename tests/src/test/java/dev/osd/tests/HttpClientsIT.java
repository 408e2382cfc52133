package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real clients in their own processes against the API on the embedded models: the dashboard as headless
 * Chromium draws it before traffic (waiting) and after (sized to its cards, time and unit axes, one colour per
 * draft; a screenshot in target/dashboard.png), and the official OpenAI Node client, unchanged. Each is skipped
 * where its program is not installed (.ci/run installs Chromium; the OpenAI client needs Node.js and the npm registry).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
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
        server = HttpServer.start(stack.system(), stack.tokenizer(), HttpServer.Settings.builder().optPort(0).build());
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

    /** The page as headless Chromium leaves it after its scripts ran, at a window {@code width} CSS pixels wide. */
    static String page(Path profile, int width) throws Exception {
        Processes.Result page = Processes.run(chromium(profile, width, "--dump-dom"), Duration.ofSeconds(60));
        assertTrue(page.ok(), "chromium ended within 60 s with 0: " + page.exited() + ", " + page.code());
        return page.out();
    }

    static ProcessBuilder chromium(Path profile, int width, String output) {
        Path chromium = Path.of("/usr/bin/chromium");
        Assumptions.assumeTrue(Files.isExecutable(chromium),
                "Debian's chromium is not installed (.ci/run installs it)");
        return new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1",
                "--user-data-dir=" + profile, "--window-size=" + width + ",1400", "--virtual-time-budget=5000",
                output, server.url() + "/")
                .redirectError(ProcessBuilder.Redirect.DISCARD);
    }

    /** The chart's element, from its opening tag to the next chart (or the tables). */
    static String chart(String dom, String chart) {
        int at = dom.indexOf("id=\"chart-" + chart + "\"");
        assertTrue(at >= 0, "chart " + chart + " in the page: " + dom.substring(0, Math.min(500, dom.length())));
        int end = dom.indexOf("class=\"chart\"", at);
        return dom.substring(at, end < 0 ? dom.indexOf("class=\"table-wrap\"", at) : end);
    }

    static String attribute(String element, String name) {
        Matcher m = Pattern.compile("\\s" + name + "=\"([^\"]*)\"").matcher(element);
        assertTrue(m.find(), name + " in " + element.substring(0, Math.min(300, element.length())));
        return m.group(1);
    }

    /** Each series' colour in the legend (or table) {@code html}: name → colour. */
    static Map<String, String> colours(String html) {
        Map<String, String> colours = new LinkedHashMap<>();
        Matcher m = Pattern.compile("data-series=\"([^\"]+)\" data-color=\"([^\"]+)\"").matcher(html);
        while (m.find()) {
            colours.put(m.group(1), m.group(2));
        }
        return colours;
    }

    @Test
    @Order(1)
    void theDashboardSaysItIsWaitingForTrafficBeforeAnyRequest(@TempDir Path profile) throws Exception {
        Eventually.awaitAssert(Duration.ofSeconds(30), () ->
                assertFalse(api.get("/v1/dashboard").json().getAsJsonArray("t").isEmpty(), "a first sample"));
        JsonObject d = api.get("/v1/dashboard").json();
        assertFalse(drawable(d, "traffic") || drawable(d, "acceptance"), "no traffic yet: " + d);
        String dom = page(profile, 1280);
        for (String chart : List.of("acceptance", "traffic", "tpot")) {
            String element = chart(dom, chart);
            assertEquals("empty", attribute(element, "data-state"), chart);
            assertEquals("0", attribute(element, "data-points"), chart);
            assertFalse(attribute(element, "data-x-labels").isEmpty(), "the time axis is drawn empty: " + chart);
        }
        assertTrue(dom.contains("waiting for traffic"), "the status line says so");
    }

    @Test
    @Order(2)
    void theDashboardDrawsItsChartsInChromiumAfterTraffic(@TempDir Path profile) throws Exception {
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
        Map<String, Integer> wide = new LinkedHashMap<>();
        for (int width : new int[] {1400, 700}) {
            String dom = page(profile, width);
            Map<String, String> draftColours = colours(dom.substring(dom.indexOf("id=\"drafts\"")));
            assertTrue(draftColours.keySet().containsAll(HttpApiTest.CLASSES), "the drafts table: " + draftColours);
            assertEquals(draftColours.size(), Set.copyOf(draftColours.values()).size(),
                    "one colour per draft: " + draftColours);
            for (String chart : CHARTS) {
                String element = chart(dom, chart);
                assertEquals("drawn", attribute(element, "data-state"), chart);
                assertTrue(Integer.parseInt(attribute(element, "data-points")) > 0, "chart " + chart + " drew points");
                // the bitmap is the canvas's size on the page, and the canvas its card's width less the padding
                int css = Integer.parseInt(attribute(element, "data-css-width"));
                int card = Integer.parseInt(attribute(element, "data-card-width"));
                String canvas = element.substring(element.indexOf("<canvas"));
                assertEquals(css, Integer.parseInt(attribute(canvas, "width")), chart + " bitmap width");
                assertTrue(css <= card && css >= card - 40, chart + ": canvas " + css + " in a card of " + card);
                assertTrue(card <= width, chart + ": a card of " + card + " in a window of " + width);
                if (width == 700) {
                    // three cards a row become one: each canvas follows its card, not a fixed size
                    assertNotEquals(wide.get(chart), css, chart + " follows the layout");
                } else {
                    wide.put(chart, css);
                }
                List<String> x = List.of(attribute(element, "data-x-labels").split("\\|"));
                assertFalse(x.isEmpty() || x.get(0).isEmpty(), chart + " time labels");
                for (String label : x) {
                    assertTrue(label.matches("\\d\\d:\\d\\d:\\d\\d"), chart + " time label " + label);
                }
                List<String> y = List.of(attribute(element, "data-y-labels").split("\\|"));
                assertTrue(y.size() >= 3, chart + " y ticks " + y);
                assertTrue(y.get(0).startsWith("0"), chart + " y from 0: " + y);
                String unit = Map.of("acceptance", " %", "traffic", " req/s", "tpot", " ms", "versions", "",
                        "queues", " msgs").get(chart);
                for (String label : y) {
                    assertTrue(label.matches("\\d+(\\.\\d+)?" + Pattern.quote(unit)), chart + " y tick " + label);
                }
                if (!chart.equals("tpot") && !chart.equals("queues")) {
                    Map<String, String> legend = colours(element);
                    assertFalse(legend.isEmpty(), chart + " legend");
                    legend.forEach((name, colour) -> {
                        if (draftColours.containsKey(name)) {
                            assertEquals(draftColours.get(name), colour, name + "'s colour in " + chart
                                    + " and in the table");
                        } else {
                            // a query class without a draft of its name (none)
                            assertFalse(draftColours.containsValue(colour), name + " takes no draft's colour");
                        }
                    });
                    assertTrue(legend.keySet().stream().anyMatch(draftColours::containsKey), chart + ": " + legend);
                }
            }
            assertTrue(dom.contains("(this gateway)</td>") && dom.contains("<td>Up</td>"), "the cluster table: " + dom);
        }
        // kept for a person to look at: target/dashboard.png
        Path shot = Path.of("target", "dashboard.png").toAbsolutePath();
        Files.deleteIfExists(shot);
        Processes.Result taken = Processes.run(chromium(profile, 1280, "--screenshot=" + shot), Duration.ofSeconds(60));
        assertTrue(taken.ok() && Files.size(shot) > 10_000, "a screenshot: " + taken.code());
    }

    @Test
    @Order(3)
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
