package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * vLLM's endpoints beside the OpenAI API, on the embedded models served under a configured name with a slash
 * in it: /health, /ping, /version, /tokenize and /detokenize (counting exactly what completions count),
 * GET /v1/models/{id}, 404 {@code model_not_found} wherever a model is named, and CORS (an allowed origin,
 * another origin, and a server with CORS off).
 */
class VllmEndpointsTest {

    static final String MODEL = "my-org/tiny-llama";
    static final String ALLOWED = "https://app.example:8443";
    static ServingStack stack;
    static HttpServer server;
    static HttpClientSupport api;

    @BeforeAll
    static void start() throws InterruptedException {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        stack = ServingStack.embedded("vllm-endpoints", new ServingStack.Options(false, true, null,
                new ServingSystem.Settings(8, 8, Duration.ofSeconds(2), 0.1, 1, 4), null));
        stack.awaitReady(Duration.ofMinutes(1));
        server = HttpServer.start(stack.system(), stack.tokenizer(), HttpServer.Settings.builder().optPort(0)
                .optModel(MODEL).optCorsAllowedOrigins(List.of(ALLOWED)).build());
        api = new HttpClientSupport(server.url());
    }

    @AfterAll
    static void stop() {
        server.close();
        stack.close();
    }

    static JsonObject body(String json) {
        return JsonParser.parseString(json).getAsJsonObject();
    }

    @Test
    void healthPingAndVersion() {
        HttpClientSupport.Reply health = api.get("/health");
        assertEquals(200, health.status(), health.body());
        assertEquals(200, api.get("/ping").status());
        assertEquals(200, api.post("/ping", "").status(), "SageMaker pings with POST");
        HttpClientSupport.Reply version = api.get("/version");
        assertEquals(200, version.status());
        assertTrue(version.json().get("version").getAsString().matches("\\d+\\.\\d+\\.\\d+.*"), version.body());
    }

    @Test
    void theModelIsServedUnderItsNameAndAnyOtherIsNotFound() {
        JsonArray data = api.get("/v1/models").json().getAsJsonArray("data");
        assertEquals(1, data.size());
        assertEquals(MODEL, data.get(0).getAsJsonObject().get("id").getAsString());
        HttpClientSupport.Reply one = api.get("/v1/models/" + MODEL);
        assertEquals(200, one.status(), one.body());
        assertEquals(MODEL, one.json().get("id").getAsString());
        assertEquals("model", one.json().get("object").getAsString());
        assertEquals(256, one.json().get("max_model_len").getAsInt());

        assertNotFound(api.get("/v1/models/osd-embedded"));
        assertNotFound(api.post("/v1/completions", body("{\"model\": \"gpt-4\", \"prompt\": \"x\"}")));
        assertNotFound(api.post("/v1/chat/completions",
                body("{\"model\": \"gpt-4\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}")));
        assertNotFound(api.post("/tokenize", body("{\"model\": \"gpt-4\", \"prompt\": \"x\"}")));
        assertNotFound(api.post("/detokenize", body("{\"model\": \"gpt-4\", \"tokens\": [5]}")));

        HttpClientSupport.Reply named = api.post("/v1/completions",
                body("{\"model\": \"" + MODEL + "\", \"prompt\": \"SELECT\", \"max_tokens\": 2}"));
        assertEquals(200, named.status(), named.body());
        assertEquals(MODEL, named.json().get("model").getAsString());
    }

    static void assertNotFound(HttpClientSupport.Reply r) {
        assertEquals(404, r.status(), r.body());
        assertEquals("model_not_found", r.error().get("code").getAsString(), r.body());
        assertEquals("model", r.error().get("param").getAsString());
        assertEquals("invalid_request_error", r.error().get("type").getAsString());
    }

    @Test
    void tokenizeCountsWhatACompletionCountsAndDetokenizeInvertsIt() {
        String prompt = "SELECT name FROM users WHERE id = 7";
        HttpClientSupport.Reply t = api.post("/tokenize", body("{\"prompt\": \"" + prompt + "\"}"));
        assertEquals(200, t.status(), t.body());
        JsonObject tokens = t.json();
        JsonObject completion = api.post("/v1/completions", body("{\"prompt\": \"" + prompt
                + "\", \"max_tokens\": 1, \"temperature\": 0}")).json();
        assertEquals(completion.getAsJsonObject("usage").get("prompt_tokens").getAsInt(),
                tokens.get("count").getAsInt());
        assertEquals(tokens.get("count").getAsInt(), tokens.getAsJsonArray("tokens").size());
        assertEquals(256, tokens.get("max_model_len").getAsInt());
        assertEquals(1, tokens.getAsJsonArray("tokens").get(0).getAsInt(), "the embedded models' BOS first");
        assertTrue(tokens.get("token_strs").isJsonNull());

        JsonObject plain = api.post("/tokenize", body("{\"prompt\": \"" + prompt
                + "\", \"add_special_tokens\": false, \"return_token_strs\": true}")).json();
        assertEquals(tokens.get("count").getAsInt() - 1, plain.get("count").getAsInt());
        StringBuilder joined = new StringBuilder();
        plain.getAsJsonArray("token_strs").forEach(s -> joined.append(s.getAsString()));
        assertEquals(prompt, joined.toString());
        HttpClientSupport.Reply back = api.post("/detokenize", body("{\"tokens\": " + plain.get("tokens") + "}"));
        assertEquals(200, back.status(), back.body());
        assertEquals(prompt, back.json().get("prompt").getAsString());

        String messages = "[{\"role\": \"system\", \"content\": \"Answer in SQL.\"}, "
                + "{\"role\": \"user\", \"content\": \"All users\"}]";
        JsonObject chatTokens = api.post("/tokenize", body("{\"messages\": " + messages + "}")).json();
        JsonObject chat = api.post("/v1/chat/completions", body("{\"messages\": " + messages
                + ", \"max_tokens\": 1}")).json();
        assertEquals(chat.getAsJsonObject("usage").get("prompt_tokens").getAsInt(),
                chatTokens.get("count").getAsInt());
        JsonObject open = api.post("/tokenize", body("{\"messages\": " + messages
                + ", \"add_generation_prompt\": false}")).json();
        assertEquals(chatTokens.get("count").getAsInt() - 1, open.get("count").getAsInt(),
                "without the assistant marker");
    }

    @Test
    void tokenizeAndDetokenizeRefuseWhatTheyDoNotTake() {
        assertRefused(api.post("/tokenize", body("{\"prompt\": \"x\", \"chat_template\": \"{{x}}\"}")), 400,
                "chat_template", "unsupported_parameter");
        assertRefused(api.post("/tokenize", body("{}")), 400, "prompt", null);
        assertRefused(api.post("/tokenize", body("{\"prompt\": \"x\", \"messages\": []}")), 400, "prompt", null);
        assertRefused(api.post("/tokenize", body("{\"prompt\": 5}")), 400, "prompt", null);
        assertRefused(api.post("/detokenize", body("{\"tokens\": [1, 99999]}")), 400, "tokens", null);
        assertRefused(api.post("/detokenize", body("{\"tokens\": \"1 2\"}")), 400, "tokens", null);
        assertRefused(api.post("/detokenize", body("{\"tokens\": [1], \"skip_special_tokens\": true}")), 400,
                "skip_special_tokens", "unsupported_parameter");
    }

    static void assertRefused(HttpClientSupport.Reply r, int status, String param, String code) {
        assertEquals(status, r.status(), r.body());
        assertEquals(param, r.error().get("param").getAsString(), r.body());
        if (code != null) {
            assertEquals(code, r.error().get("code").getAsString(), r.body());
        }
    }

    static HttpClientSupport.Reply preflight(String url, String origin) {
        return HttpClientSupport.send(HttpRequest.newBuilder(java.net.URI.create(url + "/v1/chat/completions"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).header("Origin", origin)
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "authorization, content-type").build());
    }

    static HttpClientSupport.Reply postFrom(String url, String origin) {
        return HttpClientSupport.send(HttpRequest.newBuilder(java.net.URI.create(url + "/v1/completions"))
                .header("Origin", origin).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"SELECT\", \"max_tokens\": 1}")).build());
    }

    @Test
    void corsAllowsTheConfiguredOriginAndAnswersItsPreflight() {
        HttpClientSupport.Reply p = preflight(server.url(), ALLOWED);
        assertEquals(204, p.status(), p.body());
        assertEquals(ALLOWED, p.raw().headers().firstValue("Access-Control-Allow-Origin").orElse(null));
        assertTrue(p.raw().headers().firstValue("Access-Control-Allow-Methods").orElse("").contains("POST"));
        assertEquals("authorization, content-type",
                p.raw().headers().firstValue("Access-Control-Allow-Headers").orElse(null));
        HttpClientSupport.Reply r = postFrom(server.url(), ALLOWED);
        assertEquals(200, r.status(), r.body());
        assertEquals(ALLOWED, r.raw().headers().firstValue("Access-Control-Allow-Origin").orElse(null));
        // errors carry the header too, or the browser's script could not read them
        HttpClientSupport.Reply missing = HttpClientSupport.send(HttpRequest.newBuilder(
                java.net.URI.create(server.url() + "/v1/models/nope")).header("Origin", ALLOWED).GET().build());
        assertEquals(404, missing.status());
        assertEquals(ALLOWED, missing.raw().headers().firstValue("Access-Control-Allow-Origin").orElse(null));

        HttpClientSupport.Reply other = preflight(server.url(), "https://evil.example");
        assertEquals(403, other.status(), other.body());
        assertEquals("cors_origin_not_allowed", other.error().get("code").getAsString());
        HttpClientSupport.Reply otherPost = postFrom(server.url(), "https://evil.example");
        assertFalse(otherPost.raw().headers().firstValue("Access-Control-Allow-Origin").isPresent());
    }

    @Test
    void corsIsOffByDefault() {
        try (HttpServer plain = HttpServer.start(stack.system(), stack.tokenizer(),
                HttpServer.Settings.builder().optPort(0).build())) {
            HttpClientSupport.Reply p = preflight(plain.url(), ALLOWED);
            assertEquals(403, p.status(), p.body());
            assertTrue(p.error().get("message").getAsString().contains("cors-allowed-origins"), p.body());
            assertFalse(postFrom(plain.url(), ALLOWED).raw().headers().firstValue("Access-Control-Allow-Origin")
                    .isPresent());
        }
    }
}
