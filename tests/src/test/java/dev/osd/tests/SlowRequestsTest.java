package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Requests slower than one of Pekko's own timeouts still get their whole answer. On a 1.1B target a 512-token
 * prompt's prefill takes seconds and four of them take minutes; here each timeout is made far shorter than the
 * embedded models' work instead, so each test fails if the server leaves that timeout as Pekko sets it.
 */
class SlowRequestsTest {

    /** Serves the embedded target alone with {@code pekkoSetting} in its configuration. */
    private static void serve(String name, String pekkoSetting, Consumer<HttpClientSupport> test) {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        try (ServingStack stack = ServingStack.embedded(name, new ServingStack.Options(false, false, null,
                new ServingSystem.Settings(8, 16, Duration.ofSeconds(2), 0.1, 1, 5),
                ConfigFactory.parseString(pekkoSetting).withFallback(ConfigFactory.load())));
                HttpServer server = HttpServer.start(stack.system(), stack.tokenizer(),
                        HttpServer.Settings.builder().optPort(0).build())) {
            test.accept(new HttpClientSupport(server.url()));
        }
    }

    /**
     * A stream whose first token comes after the stream materializer's subscription timeout (eight long prompts
     * prefilled in one batch) streams whole: the response opens before that timeout, not at the first token, or
     * its pre-materialized event stream would already be cancelled.
     */
    @Test
    void aStreamWhoseFirstTokenComesLateStreamsWhole() {
        serve("slow-first-token", "pekko.stream.materializer.subscription-timeout.timeout = 300ms", api -> {
            // ~180 tokens of text per prompt, eight of them: their prefill is one forward of ~1,400 rows
            String text = IntStream.range(0, 30).mapToObj(i -> "the account " + i + " was paid")
                    .collect(Collectors.joining(", "));
            JsonObject body = new JsonObject();
            JsonArray prompts = new JsonArray();
            for (int i = 0; i < 8; i++) {
                prompts.add(i + " " + text);
            }
            body.add("prompt", prompts);
            body.addProperty("max_tokens", 4);
            body.addProperty("stream", true);
            HttpClientSupport.Stream s = api.stream("/v1/completions", body);
            assertEquals(200, s.status());
            assertTrue(s.done(), "the stream ended with [DONE]: " + s.events());
            long finished = s.events().stream().filter(e -> e.getAsJsonArray("choices").size() > 0
                    && !e.getAsJsonArray("choices").get(0).getAsJsonObject().get("finish_reason").isJsonNull())
                    .count();
            assertEquals(8, finished, "every choice finished: " + s.events());
        });
    }

    /**
     * A non-streamed completion that takes longer than the connection idle timeout (nothing goes over the
     * connection while it is generated) is answered, not cut: the server raises the idle timeout past the
     * requests' deadline.
     */
    @Test
    void aCompletionLongerThanTheIdleTimeoutIsAnswered() {
        serve("long-request", "pekko.http.server.idle-timeout = 100ms", api -> {
            JsonObject body = new JsonObject();
            body.addProperty("prompt", "How many apples");
            body.addProperty("max_tokens", 240);
            body.addProperty("n", 4);
            body.addProperty("ignore_eos", true);
            body.addProperty("temperature", 0);
            HttpClientSupport.Reply r = api.post("/v1/completions", body.toString());
            assertEquals(200, r.status(), r.body());
            JsonObject o = JsonParser.parseString(r.body()).getAsJsonObject();
            assertEquals(4 * 240, o.getAsJsonObject("usage").get("completion_tokens").getAsInt());
        });
    }
}
