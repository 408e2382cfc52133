package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.actors.ServingMetrics;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * vLLM's metric set on /metrics, with vLLM's names switched on: the figures agree with what the responses said,
 * the gauges follow requests as they run, every vLLM family has its {@code vllm:} twin with the same samples,
 * the text is clean for promtool (and for a strict reader of the format), and the Grafana dashboard under
 * {@code cluster-config/grafana/} parses and queries only metrics the server exports.
 */
class VllmMetricsTest {

    static final String MODEL = "tiny-target";
    static ServingStack stack;
    static HttpServer server;
    static HttpClientSupport api;

    @BeforeAll
    static void start() throws InterruptedException {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        // drafts learning online: the trainers' figures are on /metrics too (the dashboard shows them)
        stack = ServingStack.embedded("vllm-metrics", new ServingStack.Options(true, true, null,
                new ServingSystem.Settings(8, 8, Duration.ofSeconds(2), 0.1, 1, 4), null));
        stack.awaitReady(Duration.ofMinutes(1));
        server = HttpServer.start(stack.system(), stack.tokenizer(), HttpServer.Settings.builder().optPort(0)
                .optModel(MODEL).optVllmNames(true).build());
        api = new HttpClientSupport(server.url());
    }

    @AfterAll
    static void stop() {
        server.close();
        stack.close();
    }

    static JsonObject completion(String prompt, int maxTokens) {
        JsonObject body = HttpApiTest.completion(prompt, maxTokens);
        body.addProperty("model", MODEL);
        return body;
    }

    static final String M = "{model_name=\"" + MODEL + "\"}";
    static final String USED_BLOCKS = "osd_kv_cache_blocks{model=\"target\",state=\"used\"}";
    static final String TOTAL_BLOCKS = "osd_kv_cache_blocks{model=\"target\",state=\"total\"}";

    /** Every sample of ours and of vLLM's names. */
    static Map<String, Double> samples() {
        Map<String, Double> all = new java.util.HashMap<>(api.metrics("osd_"));
        all.putAll(api.metrics("vllm:"));
        return all;
    }

    static double value(Map<String, Double> samples, String series) {
        return samples.getOrDefault(series, 0.0);
    }

    @Test
    void theCountersAgreeWithTheResponses() {
        Map<String, Double> before = samples();
        int prompt = 0;
        int generated = 0;
        int requests = 6;
        for (int i = 0; i < requests; i++) {
            JsonObject body = completion(HttpApiTest.prompt(HttpApiTest.CLASSES.get(i % 5), 200 + i), 12);
            JsonObject usage = api.post("/v1/completions", body).json().getAsJsonObject("usage");
            prompt += usage.get("prompt_tokens").getAsInt();
            generated += usage.get("completion_tokens").getAsInt();
        }
        Map<String, Double> after = samples();
        for (String prefix : List.of("osd_", "vllm:")) {
            assertEquals(prompt, value(after, prefix + "prompt_tokens_total" + M)
                    - value(before, prefix + "prompt_tokens_total" + M), 1e-9, prefix);
            assertEquals(generated, value(after, prefix + "generation_tokens_total" + M)
                    - value(before, prefix + "generation_tokens_total" + M), 1e-9, prefix);
            double success = 0;
            for (String reason : List.of("stop", "length")) {
                String series = prefix + "request_success_total{finished_reason=\"" + reason + "\",model_name=\""
                        + MODEL + "\"}";
                success += value(after, series) - value(before, series);
            }
            assertEquals(requests, success, 1e-9, prefix + "request_success_total by finish reason");
            for (String histogram : List.of("time_to_first_token_seconds", "e2e_request_latency_seconds")) {
                double count = 0;
                for (String speculation : List.of("on", "off")) {
                    String series = prefix + histogram + "_count{model_name=\"" + MODEL + "\",speculation=\""
                            + speculation + "\"}";
                    count += value(after, series) - value(before, series);
                }
                assertEquals(requests, count, 1e-9, prefix + histogram);
            }
            assertEquals(requests, value(after, prefix + "request_queue_time_seconds_count" + M)
                    - value(before, prefix + "request_queue_time_seconds_count" + M), 1e-9);
            assertTrue(after.keySet().stream().anyMatch(k -> k.startsWith(prefix + "inter_token_latency_seconds_count")));
            assertTrue(after.keySet().stream().anyMatch(k -> k.startsWith(prefix + "spec_decode_num_draft_tokens_total{")
                    && k.contains("model_name=\"" + MODEL + "\"")));
        }
        double capacity = value(after, TOTAL_BLOCKS);
        assertTrue(capacity > 0, "the target's KV-cache blocks are counted");
        assertEquals(value(after, USED_BLOCKS) / capacity, value(after, "osd_kv_cache_usage_perc" + M), 1e-9);
        assertEquals(value(after, "osd_kv_cache_usage_perc" + M), value(after, "vllm:gpu_cache_usage_perc" + M), 1e-9);
    }

    @Test
    void runningAndTheKvCacheFollowARequestUnderWay() throws Exception {
        JsonObject body = completion(HttpApiTest.prompt("sql", 300), 200);
        body.addProperty("n", 4);
        body.addProperty("ignore_eos", true);
        body.addProperty("stream", true);
        JsonObject off = new JsonObject();
        off.addProperty("enabled", false);
        body.add("speculation", off);
        HttpRequest r = api.request("/v1/completions").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
        HttpResponse<java.io.InputStream> response = HttpClientSupport.CLIENT.send(r,
                HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            String first = in.readLine();
            assertTrue(first != null && first.startsWith("data: "), first);
            // the stream is under way: its four generations run and hold blocks of the target's cache
            Map<String, Double> during = samples();
            assertEquals(4, value(during, "osd_num_requests_running" + M), 1e-9);
            assertEquals(4, value(during, "vllm:num_requests_running" + M), 1e-9);
            assertEquals(0, value(during, "osd_num_requests_waiting" + M), 1e-9);
            assertTrue(value(during, USED_BLOCKS) >= 4, during.toString());
            assertTrue(value(during, "osd_kv_cache_usage_perc" + M) > 0, during.toString());
            while (in.readLine() != null) {
                // read to its end
            }
        }
        Eventually.awaitAssert(Duration.ofSeconds(10), () -> {
            Map<String, Double> after = api.metrics("osd_");
            assertEquals(0, value(after, "osd_num_requests_running" + M), 1e-9);
            assertEquals(0, value(after, USED_BLOCKS), 1e-9);
        });
    }

    @Test
    void theExpositionIsCleanAndEveryVllmFamilyHasItsTwin() throws Exception {
        api.post("/v1/chat/completions", JsonParser.parseString(
                "{\"messages\": [{\"role\": \"user\", \"content\": \"SELECT\"}], \"max_tokens\": 4}").getAsJsonObject());
        String text = api.get("/metrics").body();
        Map<String, ExpositionFormat.Family> families = ExpositionFormat.parse(text);
        for (Map.Entry<String, List<String>> e : ServingMetrics.VLLM_NAMES.entrySet()) {
            ExpositionFormat.Family ours = family(families, e.getKey());
            for (String vllm : e.getValue()) {
                ExpositionFormat.Family twin = family(families, vllm);
                assertEquals(ours.type(), twin.type(), vllm);
                assertEquals(ours.samples().size(), twin.samples().size(), vllm);
                for (int i = 0; i < ours.samples().size(); i++) {
                    assertEquals(ours.samples().get(i).labels(), twin.samples().get(i).labels(), vllm);
                }
            }
        }
        Path promtool = Path.of("/usr/bin/promtool");
        if (Files.isExecutable(promtool)) {
            // our own names: clean
            String ours = String.join("\n", text.lines().filter(l -> !l.startsWith("vllm:")
                    && !l.startsWith("# HELP vllm:") && !l.startsWith("# TYPE vllm:")).toList()) + "\n";
            assertEquals("", promtool(ours), "promtool check metrics over the osd_ names");
            // vLLM's names: the one finding vLLM's own /metrics gets too (a colon is meant for recording rules)
            for (String finding : promtool(text).lines().toList()) {
                assertTrue(finding.startsWith("vllm:") && finding.endsWith("metric names should not contain ':'"),
                        finding);
            }
        }
    }

    /** What promtool check metrics says about {@code text} ("" when it finds nothing). */
    static String promtool(String text) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("/usr/bin/promtool", "check", "metrics").redirectErrorStream(true).start();
        p.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertTrue(out.isBlank() == (p.exitValue() == 0), "exit " + p.exitValue() + ": " + out);
        return out.trim();
    }

    /** A family by its base name (a counter's family is declared with _total). */
    static ExpositionFormat.Family family(Map<String, ExpositionFormat.Family> families, String base) {
        ExpositionFormat.Family f = families.containsKey(base) ? families.get(base) : families.get(base + "_total");
        assertTrue(f != null, "no family " + base);
        return f;
    }

    @Test
    void theStrictReaderRefusesBrokenExpositions() {
        String ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2.0\n";
        ExpositionFormat.parse(ok);
        assertThrows(AssertionError.class, () -> ExpositionFormat.parse("# HELP a A.\n# TYPE a counter\na 1\n"));
        assertThrows(AssertionError.class, () -> ExpositionFormat.parse("a_total 1\n"));
        assertThrows(AssertionError.class, () -> ExpositionFormat.parse(ok + "a_total{x=\"1\"} 3\n"));
        assertThrows(AssertionError.class, () -> ExpositionFormat.parse(
                "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1\n"));
        assertThrows(AssertionError.class, () -> ExpositionFormat.parse(
                "# HELP g G.\n# TYPE g gauge\ng{x=\"a\\q\"} 1\n"));
    }

    // PromQL words that are not metric names
    private static final Pattern METRIC = Pattern.compile("(?<![a-zA-Z0-9_:\"])((?:osd_|vllm:)[a-zA-Z0-9_:]+)");

    @Test
    void theGrafanaDashboardParsesAndQueriesOnlyExportedMetrics() throws IOException {
        assertEquals(200, api.post("/v1/completions", completion(HttpApiTest.prompt("math", 400), 8)).status());
        Map<String, ExpositionFormat.Family> families = ExpositionFormat.parse(api.get("/metrics").body());
        // a family's own name counts even before it has samples (a trainer's loss before its first update)
        Set<String> exported = new TreeSet<>(families.keySet());
        families.values().forEach(f -> f.samples().forEach(s -> exported.add(s.name())));
        Path file = EmbeddedModelsTest.repositoryRoot().resolve("cluster-config/grafana/osd-dashboard.json");
        JsonObject dashboard = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        assertFalse(dashboard.get("title").getAsString().isEmpty());
        List<String> queries = new ArrayList<>();
        collectQueries(dashboard, queries);
        assertTrue(queries.size() >= 10, "panels with queries: " + queries);
        Set<String> used = new TreeSet<>();
        for (String q : queries) {
            Matcher m = METRIC.matcher(q);
            boolean any = false;
            while (m.find()) {
                any = true;
                used.add(m.group(1));
                assertTrue(exported.contains(m.group(1)), "the dashboard queries " + m.group(1)
                        + ", which /metrics does not export (in: " + q + ")");
            }
            assertTrue(any, "a query that names no metric of the server: " + q);
        }
        for (String needed : List.of("osd_spec_decode_num_accepted_tokens_total", "osd_draft_version",
                "osd_time_per_output_token_seconds_bucket", "osd_request_queue_time_seconds_bucket",
                "osd_kv_cache_usage_perc")) {
            assertTrue(used.contains(needed), "the dashboard shows " + needed);
        }
    }

    private static void collectQueries(JsonElement e, List<String> out) {
        if (e.isJsonObject()) {
            for (Map.Entry<String, JsonElement> field : e.getAsJsonObject().entrySet()) {
                if (field.getKey().equals("expr") && field.getValue().isJsonPrimitive()) {
                    out.add(field.getValue().getAsString());
                } else {
                    collectQueries(field.getValue(), out);
                }
            }
        } else if (e.isJsonArray()) {
            e.getAsJsonArray().forEach(x -> collectQueries(x, out));
        }
    }
}
