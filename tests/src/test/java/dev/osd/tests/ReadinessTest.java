package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Issue 15 #10 and #7 at the HTTP edge: a gateway whose drafts have no replica (their node is gone) still
 * answers requests, so it is ready, and says what is degraded; a draining one is not ready and refuses new
 * requests with 503 and Retry-After.
 */
class ReadinessTest {

    @Test
    void readyMeansCanAnswerDegradedDraftsAreNamedAndDrainingIsNotReady() throws Exception {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        // gateway and target only: every draft is known by name, none has a replica here
        try (ServingStack stack = ServingStack.embedded("readiness", new ServingStack.Options(false, true, null,
                new ServingSystem.Settings(4, 16, Duration.ofSeconds(2), 0.1, 1, 8), null,
                Set.of("gateway", "target"), null));
                HttpServer server = HttpServer.start(stack.system(), stack.tokenizer(),
                        HttpServer.Settings.builder().optPort(0).build())) {
            HttpClientSupport api = new HttpClientSupport(server.url());
            // the target registers once warmed up: until then the node is rightly not ready
            HttpClientSupport.Reply ready = Eventually.awaitAssert(Duration.ofSeconds(30), () -> {
                HttpClientSupport.Reply r = api.get("/health/ready");
                assertEquals(200, r.status(), r.body());
                return r;
            });
            JsonObject body = ready.json();
            assertEquals("ready", body.get("status").getAsString());
            // vLLM's probe: an empty 200 while ready
            HttpClientSupport.Reply health = api.get("/health");
            assertEquals(200, health.status(), health.body());
            assertEquals("", health.body());
            assertEquals(1, body.get("targets").getAsInt());
            assertEquals(0, body.getAsJsonObject("draft_replicas").get("sql").getAsInt());
            String degraded = body.getAsJsonArray("degraded").toString();
            for (String draft : HttpApiTest.CLASSES) {
                assertTrue(degraded.contains("draft '" + draft + "'"), degraded);
            }
            // and it does answer, target-only
            HttpClientSupport.Reply r = api.post("/v1/completions", HttpApiTest.completion("SELECT name FROM", 3));
            assertEquals(200, r.status(), r.body());
            JsonElement draft = r.json().getAsJsonObject("metrics").getAsJsonObject("speculative_decoding")
                    .get("draft");
            assertTrue(draft.isJsonNull(), r.body());

            stack.system().drain();
            HttpClientSupport.Reply draining = api.get("/health/ready");
            assertEquals(503, draining.status(), draining.body());
            assertEquals("draining", draining.json().get("status").getAsString());
            assertEquals(503, api.get("/health").status(), "vLLM's /health follows readiness");
            assertEquals(503, api.get("/ping").status());
            HttpClientSupport.Reply refused = api.post("/v1/completions", HttpApiTest.completion("Hello", 3));
            assertEquals(503, refused.status(), refused.body());
            assertEquals("unavailable", refused.error().get("code").getAsString());
            assertEquals("1", refused.raw().headers().firstValue("Retry-After").orElse(null));
            assertEquals(200, api.get("/health/live").status());
        }
    }
}
