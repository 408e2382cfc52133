package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import dev.osd.workload.Workload;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The OpenAI-compatible API end to end, over real HTTP on a free port, on the embedded models with every
 * draft learning online: shapes, streaming, greedy equality of speculation on and off, metrics that agree with
 * the responses, concurrent clients, bad input, drafts administration and keys. Real clients in other processes
 * (Chromium, the OpenAI Node client) are {@link HttpClientsIT}'s.
 */
class HttpApiTest {

    static final List<String> CLASSES = List.of("sql", "math", "code", "finance", "general");
    static ServingStack stack;
    static HttpServer server;
    static HttpClientSupport api;

    @BeforeAll
    static void start() throws InterruptedException {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        stack = ServingStack.embedded("http-test", new ServingStack.Options(true, true, null,
                new ServingSystem.Settings(32, 16, Duration.ofSeconds(2), 0.1, 1, 8), null));
        // the model actors are listed once warmed up: /health/ready answers 200 from then on
        stack.awaitReady(Duration.ofMinutes(1));
        server = HttpServer.start(stack.system(), stack.tokenizer(),
                HttpServer.Settings.builder().optPort(0).optMaxBodyBytes(64 * 1024).build());
        api = new HttpClientSupport(server.url());
    }

    @AfterAll
    static void stop() {
        server.close();
        stack.close();
    }

    static String prompt(String queryClass, int i) {
        return Workload.example(Workload.get(queryClass), Workload.Split.HELD_OUT, i, 5).prompt();
    }

    static JsonObject completion(String prompt, int maxTokens) {
        JsonObject b = new JsonObject();
        b.addProperty("model", "osd-embedded");
        b.addProperty("prompt", prompt);
        b.addProperty("max_tokens", maxTokens);
        b.addProperty("temperature", 0);
        return b;
    }

    static JsonObject speculationOff(JsonObject body) {
        JsonObject b = body.deepCopy();
        JsonObject s = new JsonObject();
        s.addProperty("enabled", false);
        b.add("speculation", s);
        return b;
    }

    static JsonObject sd(JsonObject response) {
        return response.getAsJsonObject("metrics").getAsJsonObject("speculative_decoding");
    }

    @Test
    void aCompletionHasTheOpenAiShapeAndItsSpeculationFigures() {
        HttpClientSupport.Reply r = api.post("/v1/completions", completion(prompt("sql", 0), 24));
        assertEquals(200, r.status(), r.body());
        JsonObject o = r.json();
        assertTrue(o.get("id").getAsString().startsWith("cmpl-"));
        assertEquals("text_completion", o.get("object").getAsString());
        assertEquals("osd-embedded", o.get("model").getAsString());
        assertTrue(o.get("created").getAsLong() > 1_600_000_000L);
        JsonObject choice = o.getAsJsonArray("choices").get(0).getAsJsonObject();
        assertEquals(0, choice.get("index").getAsInt());
        assertFalse(choice.get("text").getAsString().isEmpty());
        assertTrue(List.of("stop", "length").contains(choice.get("finish_reason").getAsString()));
        JsonObject usage = o.getAsJsonObject("usage");
        assertEquals(usage.get("prompt_tokens").getAsInt() + usage.get("completion_tokens").getAsInt(),
                usage.get("total_tokens").getAsInt());
        JsonObject sd = sd(o);
        for (String field : List.of("num_spec_steps", "num_draft_tokens", "num_accepted_draft_tokens",
                "draft_acceptance_rate", "mean_acceptance_length", "draft", "draft_version", "query_class")) {
            assertTrue(sd.has(field), "metrics.speculative_decoding." + field);
        }
        assertEquals("sql", sd.get("draft").getAsString());
        assertEquals("sql", sd.get("query_class").getAsString());
        assertTrue(sd.get("num_draft_tokens").getAsInt() > 0);
        assertEquals((double) sd.get("num_accepted_draft_tokens").getAsInt() / sd.get("num_draft_tokens").getAsInt(),
                sd.get("draft_acceptance_rate").getAsDouble(), 1e-9);
    }

    @Test
    void aStreamedCompletionSendsTheSameTextAsEventsEndingInDone() {
        JsonObject body = completion(prompt("math", 1), 32);
        String whole = api.post("/v1/completions", body).json().getAsJsonArray("choices").get(0).getAsJsonObject()
                .get("text").getAsString();
        body.addProperty("stream", true);
        JsonObject options = new JsonObject();
        options.addProperty("include_usage", true);
        body.add("stream_options", options);
        HttpClientSupport.Stream s = api.stream("/v1/completions", body);
        assertEquals(200, s.status());
        assertTrue(s.contentType().startsWith("text/event-stream"), s.contentType());
        assertTrue(s.done(), "ends with data: [DONE]");
        StringBuilder text = new StringBuilder();
        int finishes = 0;
        for (JsonObject e : s.events().subList(0, s.events().size() - 1)) {
            assertEquals("text_completion", e.get("object").getAsString());
            JsonObject c = e.getAsJsonArray("choices").get(0).getAsJsonObject();
            text.append(c.get("text").getAsString());
            finishes += c.get("finish_reason").isJsonNull() ? 0 : 1;
        }
        assertEquals(whole, text.toString(), "streamed text = whole text at temperature 0");
        assertEquals(1, finishes);
        JsonObject last = s.events().get(s.events().size() - 1);
        assertEquals(0, last.getAsJsonArray("choices").size(), "the usage chunk has no choices");
        assertTrue(last.getAsJsonObject("usage").get("completion_tokens").getAsInt() > 0);
        assertNotNull(sd(last).get("num_draft_tokens"));
    }

    @Test
    void chatCompletionsAnswerWholeAndStreamed() {
        JsonObject body = new JsonObject();
        JsonArray messages = new JsonArray();
        JsonObject m = new JsonObject();
        m.addProperty("role", "user");
        m.addProperty("content", prompt("finance", 2));
        messages.add(m);
        body.add("messages", messages);
        body.addProperty("max_tokens", 24);
        body.addProperty("temperature", 0);
        JsonObject o = api.post("/v1/chat/completions", body).json();
        assertEquals("chat.completion", o.get("object").getAsString());
        assertTrue(o.get("id").getAsString().startsWith("chatcmpl-"));
        JsonObject message = o.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("message");
        assertEquals("assistant", message.get("role").getAsString());
        String whole = message.get("content").getAsString();
        assertEquals("finance", sd(o).get("query_class").getAsString());

        body.addProperty("stream", true);
        HttpClientSupport.Stream s = api.stream("/v1/chat/completions", body);
        assertTrue(s.done());
        JsonObject first = s.events().get(0).getAsJsonArray("choices").get(0).getAsJsonObject();
        assertEquals("chat.completion.chunk", s.events().get(0).get("object").getAsString());
        assertEquals("assistant", first.getAsJsonObject("delta").get("role").getAsString());
        StringBuilder text = new StringBuilder();
        for (JsonObject e : s.events()) {
            JsonObject delta = e.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("delta");
            if (delta.has("content")) {
                text.append(delta.get("content").getAsString());
            }
        }
        assertEquals(whole, text.toString());
        JsonObject last = s.events().get(s.events().size() - 1);
        assertFalse(last.getAsJsonArray("choices").get(0).getAsJsonObject().get("finish_reason").isJsonNull());
        assertTrue(last.has("metrics"), "the last chunk carries the speculation figures");
    }

    @Test
    void greedyOutputIsTheSameWithSpeculationOnAndOffOverManyPrompts() {
        long drafted = 0;
        for (String c : CLASSES) {
            for (int i = 0; i < 6; i++) {
                JsonObject body = completion(prompt(c, 10 + i), 32);
                if (i % 3 == 2) {
                    JsonObject s = new JsonObject();
                    s.addProperty("num_draft_tokens", 3);
                    body.add("speculation", s);
                }
                JsonObject on = api.post("/v1/completions", body).json();
                JsonObject off = api.post("/v1/completions", speculationOff(body)).json();
                assertEquals(text(off), text(on), c + " prompt " + i);
                assertEquals(off.getAsJsonObject("usage").get("completion_tokens").getAsInt(),
                        on.getAsJsonObject("usage").get("completion_tokens").getAsInt());
                assertEquals(0, sd(off).get("num_draft_tokens").getAsInt());
                assertTrue(sd(off).get("draft").isJsonNull());
                drafted += sd(on).get("num_draft_tokens").getAsInt();
            }
        }
        assertTrue(drafted > 100, "speculation really ran: " + drafted + " draft tokens");
    }

    static String text(JsonObject response) {
        return response.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
    }

    @Test
    void prometheusCountersAgreeWithThePerRequestFigures() {
        Map<String, Double> before = api.metrics("osd_");
        Map<String, long[]> perDraft = new HashMap<>();
        int requests = 15;
        for (int i = 0; i < requests; i++) {
            JsonObject o = api.post("/v1/completions", completion(prompt(CLASSES.get(i % 5), 40 + i), 24)).json();
            JsonObject sd = sd(o);
            long[] sums = perDraft.computeIfAbsent(sd.get("draft").getAsString(), d -> new long[3]);
            sums[0] += sd.get("num_spec_steps").getAsLong();
            sums[1] += sd.get("num_draft_tokens").getAsLong();
            sums[2] += sd.get("num_accepted_draft_tokens").getAsLong();
        }
        Map<String, Double> after = api.metrics("osd_");
        assertEquals(5, perDraft.size(), "every class reached its draft: " + perDraft.keySet());
        for (Map.Entry<String, long[]> e : perDraft.entrySet()) {
            String label = "{draft=\"" + e.getKey() + "\",model_name=\"osd-embedded\"}";
            assertEquals(e.getValue()[0], delta(before, after, "osd_spec_decode_num_drafts_total" + label), e.getKey());
            assertEquals(e.getValue()[1], delta(before, after, "osd_spec_decode_num_draft_tokens_total" + label));
            assertEquals(e.getValue()[2], delta(before, after, "osd_spec_decode_num_accepted_tokens_total" + label));
            double perPosition = 0;
            for (String name : after.keySet()) {
                if (name.startsWith("osd_spec_decode_num_accepted_tokens_per_pos_total{draft=\"" + e.getKey() + "\"")) {
                    perPosition += delta(before, after, name);
                }
            }
            assertEquals(e.getValue()[2], perPosition, 1e-9, "per-position counts add up to the accepted tokens");
        }
        double served = 0;
        for (String name : after.keySet()) {
            if (name.startsWith("osd_requests_total{")) {
                served += delta(before, after, name);
            }
        }
        assertEquals(requests, served, 1e-9);
        assertEquals(requests, delta(before, after, "osd_e2e_request_latency_seconds_count{model_name=\"osd-embedded\",speculation=\"on\"}"), 1e-9);
        assertTrue(after.keySet().stream().anyMatch(n -> n.startsWith("osd_actor_queue_depth{kind=\"target\"}")));
        assertTrue(after.get("osd_actor_messages_processed_total{kind=\"target\"}") > 0);
        assertTrue(after.keySet().stream().anyMatch(n -> n.startsWith("osd_draft_version{draft=\"sql\"}")));
        assertTrue(after.keySet().stream().anyMatch(n -> n.startsWith("osd_trainer_updates_total{draft=\"sql\"}")));
        assertTrue(api.get("/metrics").body().contains("jvm_memory_used_bytes"), "JVM metrics");
    }

    static double delta(Map<String, Double> before, Map<String, Double> after, String name) {
        return after.getOrDefault(name, 0.0) - before.getOrDefault(name, 0.0);
    }

    @Test
    void sixteenConcurrentClientsAreAllAnsweredWithTheirOwnText() throws Exception {
        List<String> expected = new ArrayList<>();
        List<JsonObject> bodies = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            JsonObject body = completion(prompt(CLASSES.get(i % 5), 70 + i), 24);
            bodies.add(body);
            expected.add(text(api.post("/v1/completions", speculationOff(body)).json()));
        }
        List<CompletableFuture<HttpResponse<String>>> replies = new ArrayList<>();
        for (JsonObject body : bodies) {
            replies.add(HttpClientSupport.CLIENT.sendAsync(api.request("/v1/completions")
                    .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < 16; i++) {
            HttpResponse<String> r = replies.get(i).get(120, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(expected.get(i), text(JsonParser.parseString(r.body()).getAsJsonObject()), "client " + i);
        }
    }

    @Test
    void everyBadInputGetsTheOpenAiErrorNamingItsParameter() {
        String longPrompt = "word ".repeat(400);
        Object[][] cases = {
            {"/v1/completions", "{bad", 400, null},
            {"/v1/completions", "[1, 2]", 400, null},
            {"/v1/completions", "{}", 400, "prompt"},
            {"/v1/completions", "{\"prompt\": 5}", 400, "prompt"},
            {"/v1/completions", "{\"prompt\": [99999]}", 400, "prompt"},
            {"/v1/completions", "{\"prompt\": \"" + longPrompt + "\"}", 400, "prompt"},
            {"/v1/completions", "{\"prompt\": \"x\", \"temperature\": \"hot\"}", 400, "temperature"},
            {"/v1/completions", "{\"prompt\": \"x\", \"temperature\": -1}", 400, "temperature"},
            {"/v1/completions", "{\"prompt\": \"x\", \"top_p\": 0}", 400, "top_p"},
            {"/v1/completions", "{\"prompt\": \"x\", \"top_p\": 1.5}", 400, "top_p"},
            {"/v1/completions", "{\"prompt\": \"x\", \"top_k\": -5}", 400, "top_k"},
            {"/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 0}", 400, "max_tokens"},
            {"/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": \"10\"}", 400, "max_tokens"},
            {"/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 1000}", 400, "max_tokens"},
            {"/v1/completions", "{\"prompt\": \"x\", \"n\": 0}", 400, "n"},
            {"/v1/completions", "{\"prompt\": \"x\", \"n\": 1.5}", 400, "n"},
            {"/v1/completions", "{\"prompt\": \"x\", \"stop\": 5}", 400, "stop"},
            {"/v1/completions", "{\"prompt\": \"x\", \"seed\": \"a\"}", 400, "seed"},
            {"/v1/completions", "{\"prompt\": \"x\", \"stream\": \"yes\"}", 400, "stream"},
            {"/v1/completions", "{\"prompt\": \"x\", \"logprobs\": 9}", 400, "logprobs"},
            {"/v1/completions", "{\"prompt\": \"x\", \"model\": \"gpt-4\"}", 404, "model"},
            {"/v1/completions", "{\"prompt\": \"x\", \"speculation\": {\"draft\": \"nope\"}}", 400,
                "speculation.draft"},
            {"/v1/completions", "{\"prompt\": \"x\", \"speculation\": {\"num_draft_tokens\": -1}}", 400,
                "speculation.num_draft_tokens"},
            {"/v1/completions", "{\"prompt\": \"x\", \"speculation\": {\"enabled\": 1}}", 400, "speculation.enabled"},
            {"/v1/chat/completions", "{\"messages\": \"hi\"}", 400, "messages"},
            {"/v1/chat/completions", "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", 400,
                "messages[0].role"},
            {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": -3}",
                400, "max_tokens"},
            {"/v1/completions", "{\"prompt\": \"" + "x".repeat(100_000) + "\"}", 413, null},
        };
        for (Object[] c : cases) {
            HttpClientSupport.Reply r = api.post((String) c[0], (String) c[1]);
            String what = c[0] + " " + ((String) c[1]).substring(0, Math.min(80, ((String) c[1]).length()));
            assertEquals((int) c[2], r.status(), what + " -> " + r.body());
            JsonObject error = r.error();
            assertFalse(error.get("message").getAsString().isEmpty(), what);
            assertEquals("invalid_request_error", error.get("type").getAsString(), what);
            if (c[3] == null) {
                assertTrue(error.get("param").isJsonNull(), what + " -> " + r.body());
            } else {
                assertEquals(c[3], error.get("param").getAsString(), what + " -> " + r.body());
            }
        }
        assertEquals(404, api.get("/v1/nothing").status());
        assertEquals(405, api.get("/v1/completions").status());
        // nothing above crashed or wedged the server
        assertEquals(200, api.post("/v1/completions", completion("Hello", 4)).status());
    }

    @Test
    void logprobsAreTheTargetsAndDoNotDependOnSpeculation() {
        JsonObject body = completion(prompt("code", 3), 16);
        body.addProperty("logprobs", 2);
        JsonObject on = api.post("/v1/completions", body).json();
        JsonObject off = api.post("/v1/completions", speculationOff(body)).json();
        JsonObject lpOn = on.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs");
        JsonObject lpOff = off.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs");
        JsonArray tokens = lpOn.getAsJsonArray("tokens");
        assertEquals(on.getAsJsonObject("usage").get("completion_tokens").getAsInt(), tokens.size());
        assertEquals(lpOff.getAsJsonArray("tokens"), tokens);
        for (int i = 0; i < tokens.size(); i++) {
            double lp = lpOn.getAsJsonArray("token_logprobs").get(i).getAsDouble();
            assertEquals(lpOff.getAsJsonArray("token_logprobs").get(i).getAsDouble(), lp, 1e-4, "position " + i);
            assertTrue(lp <= 0);
            JsonObject top = lpOn.getAsJsonArray("top_logprobs").get(i).getAsJsonObject();
            assertTrue(top.size() >= 1 && top.size() <= 2);
            double best = top.entrySet().stream().mapToDouble(e -> e.getValue().getAsDouble()).max().orElseThrow();
            assertEquals(best, lp, 1e-5, "greedy picks the most likely token");
        }
    }

    @Test
    void draftsAreListedAddedPausedAndRetiredWhileServing() {
        JsonObject list = api.get("/v1/drafts").json();
        assertEquals(5, list.getAsJsonArray("data").size());
        JsonObject first = list.getAsJsonArray("data").get(0).getAsJsonObject();
        for (String f : List.of("name", "query_class", "version", "traffic_share", "acceptance", "trainer")) {
            assertTrue(first.has(f), f);
        }
        assertEquals(400, api.post("/v1/drafts", "{\"name\": \"Bad Name!\"}").status());
        assertEquals(409, api.post("/v1/drafts", "{\"name\": \"sql\"}").status());
        HttpClientSupport.Reply added = api.post("/v1/drafts", "{\"name\": \"legal\", \"keywords\": [\"contract\"]}");
        assertEquals(201, added.status(), added.body());
        assertEquals("legal", added.json().get("name").getAsString());
        JsonObject routed = api.post("/v1/completions", completion("Review this contract: the tenant pays", 12)).json();
        assertEquals("legal", sd(routed).get("draft").getAsString(), routed.toString());
        assertEquals("legal", sd(routed).get("query_class").getAsString());

        assertEquals("paused", api.post("/v1/drafts/legal/pause", "").json().getAsJsonObject("trainer")
                .get("state").getAsString());
        assertEquals("training", api.post("/v1/drafts/legal/resume", "").json().getAsJsonObject("trainer")
                .get("state").getAsString());
        JsonObject all = api.post("/v1/training/pause", "").json();
        for (JsonElement d : all.getAsJsonArray("data")) {
            assertEquals("paused", d.getAsJsonObject().getAsJsonObject("trainer").get("state").getAsString());
        }
        api.post("/v1/training/resume", "");
        assertEquals(404, api.post("/v1/drafts/nope/pause", "").status());

        HttpClientSupport.Reply deleted = api.delete("/v1/drafts/legal");
        assertEquals(200, deleted.status(), deleted.body());
        assertTrue(deleted.json().get("deleted").getAsBoolean());
        assertEquals(404, api.delete("/v1/drafts/legal").status());
        JsonObject after = api.post("/v1/completions", completion("Review this contract: the tenant pays", 12)).json();
        assertFalse(sd(after).toString().contains("\"draft\":\"legal\""), "a retired draft serves no more: " + after);
        assertEquals(5, api.get("/v1/drafts").json().getAsJsonArray("data").size());
    }

    @Test
    void apiKeysGuardTheApiAndTheAdministrationSeparately() {
        try (HttpServer guarded = HttpServer.start(stack.system(), stack.tokenizer(),
                HttpServer.Settings.builder().optPort(0).optApiKey("k1").optAdminKey("a1").build())) {
            HttpClientSupport none = new HttpClientSupport(guarded.url());
            HttpClientSupport user = new HttpClientSupport(guarded.url(), "k1");
            HttpClientSupport admin = new HttpClientSupport(guarded.url(), "a1");
            HttpClientSupport wrong = new HttpClientSupport(guarded.url(), "nope");
            assertEquals(401, none.get("/v1/models").status());
            assertEquals("authentication_error", none.get("/v1/models").error().get("type").getAsString());
            assertEquals(401, wrong.post("/v1/completions", completion("Hi", 2)).status());
            assertEquals(200, user.get("/v1/models").status());
            assertEquals(200, user.post("/v1/completions", completion("Hi", 2)).status());
            assertEquals(401, user.get("/v1/drafts").status());
            assertEquals(200, admin.get("/v1/drafts").status());
            assertEquals(200, none.get("/metrics").status());
            assertEquals(200, none.get("/health/live").status());
        }
    }

    @Test
    void healthAndModels() {
        assertEquals(200, api.get("/health/live").status());
        HttpClientSupport.Reply ready = api.get("/health/ready");
        assertEquals(200, ready.status(), ready.body());
        assertEquals(1, ready.json().get("targets").getAsInt());
        JsonObject models = api.get("/v1/models").json();
        assertEquals("list", models.get("object").getAsString());
        assertEquals("osd-embedded", models.getAsJsonArray("data").get(0).getAsJsonObject().get("id").getAsString());
    }
}
