package dev.osd.http;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Sampling fields this server does not apply yet are refused with 400 unsupported_parameter naming them,
 * never accepted and ignored; at their neutral value (what clients send by default) they pass.
 */
class UnhonouredFieldsTest {

    private static JsonObject body(String json) {
        return JsonParser.parseString(json).getAsJsonObject();
    }

    @Test
    void aFieldThatWouldChangeTheOutputIsRefusedByName() {
        Map<String, String> completions = Map.of(
                "logit_bias", "{\"5\": 10}", "presence_penalty", "0.5", "frequency_penalty", "-1",
                "repetition_penalty", "1.2", "min_tokens", "30", "echo", "true", "best_of", "2", "suffix", "\"x\"",
                "stop_token_ids", "[7]", "min_p", "0.1");
        for (Map.Entry<String, String> f : completions.entrySet()) {
            ApiError e = assertThrows(ApiError.class, () -> CompletionParams.parse(
                    body("{\"prompt\": \"hi\", \"" + f.getKey() + "\": " + f.getValue() + "}"), false), f.getKey());
            JsonObject error = e.toJson().getAsJsonObject("error");
            assertEquals(f.getKey(), error.get("param").getAsString());
            assertEquals("unsupported_parameter", error.get("code").getAsString());
        }
        for (String f : new String[] {"functions", "function_call", "tools", "response_format"}) {
            ApiError e = assertThrows(ApiError.class, () -> CompletionParams.parse(body(
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"" + f + "\": {}}"), true), f);
            assertEquals(f, e.toJson().getAsJsonObject("error").get("param").getAsString());
        }
    }

    @Test
    void neutralValuesAsClientsSendThemPass() {
        assertDoesNotThrow(() -> CompletionParams.parse(body("{\"prompt\": \"hi\", \"presence_penalty\": 0, "
                + "\"frequency_penalty\": 0, \"logit_bias\": {}, \"echo\": false, \"n\": 2, \"best_of\": 2, "
                + "\"repetition_penalty\": 1, \"min_tokens\": 0, \"stop_token_ids\": [], \"suffix\": null}"), false));
        assertDoesNotThrow(() -> CompletionParams.parse(body("{\"messages\": [{\"role\": \"user\", \"content\": "
                + "\"hi\"}], \"presence_penalty\": 0, \"frequency_penalty\": 0, \"logit_bias\": null}"), true));
    }
}
