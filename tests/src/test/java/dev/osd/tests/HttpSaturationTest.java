package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A server with two request slots under eight concurrent clients: the overflow hears 429 with Retry-After. */
class HttpSaturationTest {

    @Test
    void requestsPastTheSlotsAreRefusedWith429AndRetryAfterAndTheServerRecovers() throws Exception {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        try (ServingStack stack = ServingStack.embedded("saturation", new ServingStack.Options(false, true, null,
                new ServingSystem.Settings(2, 16, Duration.ofSeconds(2), 0.1, 1, 8), null));
                HttpServer server = HttpServer.start(stack.system(), stack.tokenizer(),
                        HttpServer.Settings.builder().optPort(0).build())) {
            HttpClientSupport api = new HttpClientSupport(server.url());
            JsonObject body = HttpApiTest.completion("How many apples", 200);
            body.addProperty("ignore_eos", true);
            List<CompletableFuture<HttpResponse<String>>> replies = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                JsonObject b = body.deepCopy();
                b.addProperty("stream", i % 2 == 1);
                replies.add(HttpClientSupport.CLIENT.sendAsync(api.request("/v1/completions")
                        .POST(HttpRequest.BodyPublishers.ofString(b.toString())).build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            int ok = 0;
            int refused = 0;
            for (CompletableFuture<HttpResponse<String>> f : replies) {
                HttpResponse<String> r = f.get(120, TimeUnit.SECONDS);
                if (r.statusCode() == 200) {
                    ok++;
                } else {
                    assertEquals(429, r.statusCode(), r.body());
                    assertEquals("1", r.headers().firstValue("Retry-After").orElse(null));
                    JsonObject error = JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonObject("error");
                    assertEquals("overloaded", error.get("code").getAsString());
                    assertEquals("rate_limit_error", error.get("type").getAsString());
                    refused++;
                }
            }
            assertTrue(ok >= 2, ok + " answered");
            assertTrue(refused >= 1, refused + " refused");
            assertEquals(8, ok + refused);
            // the slots are free again: nothing leaked
            assertEquals(200, api.post("/v1/completions", HttpApiTest.completion("Hello", 4)).status());
            assertEquals(200, api.post("/v1/completions", HttpApiTest.completion("Hello", 4)).status());
        }
    }
}
