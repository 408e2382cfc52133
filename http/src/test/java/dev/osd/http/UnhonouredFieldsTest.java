package dev.osd.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.engine.LogitsShaping;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The one sampling field this server does not apply, {@code suffix}, is refused with 400 unsupported_parameter
 * naming it, never accepted and ignored; the shaping fields, echo and best_of are read into the request, each
 * out-of-range value refused by name; at their neutral values (what clients send by default) all pass.
 */
class UnhonouredFieldsTest {

    private static JsonObject body(String json) {
        return JsonParser.parseString(json).getAsJsonObject();
    }

    private static ApiError refused(String json, boolean chat) {
        return assertThrows(ApiError.class, () -> CompletionParams.parse(body(json), chat), json);
    }

    @Test
    void suffixAndTheStructuredOutputFieldsAreRefusedByName() {
        JsonObject error = refused("{\"prompt\": \"hi\", \"suffix\": \"x\"}", false).toJson()
                .getAsJsonObject("error");
        assertEquals("suffix", error.get("param").getAsString());
        assertEquals("unsupported_parameter", error.get("code").getAsString());
        for (String f : new String[] {"functions", "function_call", "tools", "response_format"}) {
            ApiError e = refused("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"" + f + "\": {}}",
                    true);
            assertEquals(f, e.toJson().getAsJsonObject("error").get("param").getAsString());
        }
    }

    @Test
    void completionsOnlyFieldsAreRefusedInChat() {
        for (String f : new String[] {"\"echo\": true", "\"best_of\": 2", "\"suffix\": \"x\""}) {
            JsonObject error = refused("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], " + f + "}",
                    true).toJson().getAsJsonObject("error");
            assertEquals("unsupported_parameter", error.get("code").getAsString(), f);
            assertTrue(error.get("message").getAsString().contains("/v1/completions"), f);
        }
    }

    @Test
    void theShapingFieldsAreReadIntoTheRequest() {
        CompletionParams p = CompletionParams.parse(body("{\"prompt\": \"hi\", \"logit_bias\": {\"9\": -100, "
                + "\"5\": 2.5}, \"presence_penalty\": 0.5, \"frequency_penalty\": -1, \"repetition_penalty\": 1.2, "
                + "\"min_tokens\": 3, \"min_p\": 0.1, \"stop_token_ids\": [7, 2, 7], \"echo\": true, \"n\": 2, "
                + "\"best_of\": 3}"), false);
        LogitsShaping s = p.shaping();
        assertArrayEquals(new int[] {5, 9}, s.biasTokens());
        assertArrayEquals(new float[] {2.5f, -100f}, s.biasValues());
        assertEquals(0.5, s.presencePenalty());
        assertEquals(-1, s.frequencyPenalty());
        assertEquals(1.2, s.repetitionPenalty());
        assertEquals(3, s.minTokens());
        assertEquals(0.1, s.minP());
        assertArrayEquals(new int[] {2, 7}, s.stopTokenIds());
        assertTrue(p.echo());
        assertEquals(3, p.bestOf());
        assertEquals(2, CompletionParams.parse(body("{\"prompt\": \"hi\", \"n\": 2}"), false).bestOf());
    }

    @Test
    void outOfRangeValuesAreRefusedByName() {
        Map<String, String> bad = Map.of(
                "presence_penalty", "2.5", "frequency_penalty", "-3", "repetition_penalty", "0",
                "min_p", "1.5", "min_tokens", "-1", "logit_bias", "{\"x\": 1}", "stop_token_ids", "[-1]",
                "best_of", "1, \"n\": 2", "echo", "\"yes\"");
        for (Map.Entry<String, String> f : bad.entrySet()) {
            ApiError e = refused("{\"prompt\": \"hi\", \"" + f.getKey() + "\": " + f.getValue() + "}", false);
            assertEquals(f.getKey(), e.toJson().getAsJsonObject("error").get("param").getAsString(), f.getKey());
        }
        assertEquals("logit_bias", refused("{\"prompt\": \"hi\", \"logit_bias\": {\"3\": 101}}", false).toJson()
                .getAsJsonObject("error").get("param").getAsString());
        assertEquals("best_of", refused("{\"prompt\": \"hi\", \"best_of\": 2, \"stream\": true}", false).toJson()
                .getAsJsonObject("error").get("param").getAsString());
    }

    @Test
    void neutralValuesAsClientsSendThemPass() {
        assertDoesNotThrow(() -> CompletionParams.parse(body("{\"prompt\": \"hi\", \"presence_penalty\": 0, "
                + "\"frequency_penalty\": 0, \"logit_bias\": {}, \"echo\": false, \"n\": 2, \"best_of\": 2, "
                + "\"repetition_penalty\": 1, \"min_tokens\": 0, \"stop_token_ids\": [], \"suffix\": null}"), false));
        assertDoesNotThrow(() -> CompletionParams.parse(body("{\"prompt\": \"hi\", \"suffix\": \"\"}"), false));
        assertTrue(CompletionParams.parse(body("{\"messages\": [{\"role\": \"user\", \"content\": "
                + "\"hi\"}], \"presence_penalty\": 0, \"frequency_penalty\": 0, \"logit_bias\": null}"), true)
                .shaping().neutral());
    }
}
