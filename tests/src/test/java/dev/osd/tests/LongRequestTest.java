package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A non-streamed completion that takes longer than Pekko HTTP's connection idle timeout (nothing goes over the
 * connection while it is generated) is answered, not cut: the server raises the idle timeout past the
 * requests' deadline. Here the idle timeout is made far shorter than the generation (a 1.1B target takes
 * minutes for four 512-token prompts; the default idle timeout is 60 s).
 */
class LongRequestTest {

    @Test
    void aCompletionLongerThanTheIdleTimeoutIsAnswered() {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        Config config = ConfigFactory.parseString("pekko.http.server.idle-timeout = 100ms")
                .withFallback(ConfigFactory.load());
        try (ServingStack stack = ServingStack.embedded("long-request", new ServingStack.Options(false, false,
                null, new ServingSystem.Settings(8, 16, Duration.ofSeconds(2), 0.1, 1, 5), config));
                HttpServer server = HttpServer.start(stack.system(), stack.tokenizer(),
                        HttpServer.Settings.builder().optPort(0).build())) {
            HttpClientSupport api = new HttpClientSupport(server.url());
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
        }
    }
}
