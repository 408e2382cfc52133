package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.time.Duration;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * A stream whose first token comes later than the stream materializer's subscription timeout (a long prompt's
 * prefill on a large target takes seconds) still streams whole: the response opens before that timeout, not at
 * the first token. Here the timeout is made short and the first token slow (eight long prompts prefilled in one
 * batch), so a response that waited for the first token would find its event stream already cancelled.
 */
class SlowFirstTokenStreamTest {

    @Test
    void aStreamWhoseFirstTokenComesLateStreamsWhole() {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        Config config = ConfigFactory.parseString("pekko.stream.materializer.subscription-timeout.timeout = 300ms")
                .withFallback(ConfigFactory.load());
        try (ServingStack stack = ServingStack.embedded("slow-first-token", new ServingStack.Options(false, false,
                null, new ServingSystem.Settings(8, 16, Duration.ofSeconds(2), 0.1, 1, 5), config));
                HttpServer server = HttpServer.start(stack.system(), stack.tokenizer(),
                        HttpServer.Settings.builder().optPort(0).build())) {
            HttpClientSupport api = new HttpClientSupport(server.url());
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
            long start = System.nanoTime();
            HttpClientSupport.Stream s = api.stream("/v1/completions", body);
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertEquals(200, s.status());
            assertTrue(s.done(), "the stream ended with [DONE] after " + millis + " ms: " + s.events());
            long finished = s.events().stream().filter(e -> e.getAsJsonArray("choices").size() > 0
                    && !e.getAsJsonArray("choices").get(0).getAsJsonObject().get("finish_reason").isJsonNull())
                    .count();
            assertEquals(8, finished, "every choice finished: " + s.events());
        }
    }
}
