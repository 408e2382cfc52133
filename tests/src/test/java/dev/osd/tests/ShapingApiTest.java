package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 16, items 1 and 2 over HTTP on the embedded models, drafts learning: each shaping field changes the
 * output as it says, and identically with speculation on and off; a seeded request gives the same text with
 * speculation off, with any k and with any named draft; best_of returns the best by mean token logprob; echo
 * puts the prompt first; bad values are 400 naming the field.
 */
class ShapingApiTest {

    static ServingStack stack;
    static HttpServer server;
    static HttpClientSupport api;
    static final String PROMPT = "select the total of orders by customer";

    @BeforeAll
    static void start() throws InterruptedException {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        stack = ServingStack.embedded("shaping-api", new ServingStack.Options(true, true, null,
                new ServingSystem.Settings(16, 8, Duration.ofSeconds(2), 0.1, 1, 4), null));
        stack.awaitReady(Duration.ofMinutes(1));
        server = HttpServer.start(stack.system(), stack.tokenizer(), HttpServer.Settings.builder().optPort(0).build());
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

    static JsonObject complete(String fields) {
        HttpClientSupport.Reply r = api.post("/v1/completions", "{\"prompt\": \"" + PROMPT + "\", " + fields + "}");
        assertEquals(200, r.status(), fields + ": " + r.body());
        return r.json();
    }

    static String text(JsonObject completion) {
        return completion.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
    }

    /** The completion's token ids: its text tokenized, checked against the tokens its logprobs name. */
    static int[] tokens(JsonObject completion) {
        JsonObject choice = completion.getAsJsonArray("choices").get(0).getAsJsonObject();
        JsonArray named = choice.getAsJsonObject("logprobs").getAsJsonArray("tokens");
        JsonObject t = api.post("/tokenize", body("{\"prompt\": " + new JsonPrimitive(
                choice.get("text").getAsString()) + ", \"add_special_tokens\": false, \"return_token_strs\": true}"))
                .json();
        assertEquals(named, t.getAsJsonArray("token_strs"), "the text re-tokenizes into its own tokens");
        JsonArray ids = t.getAsJsonArray("tokens");
        int[] out = new int[ids.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ids.get(i).getAsInt();
        }
        return out;
    }

    /** Greedy with these fields: the same text with speculation on (k = 3) and off; returns the completion. */
    static JsonObject greedyBothWays(String fields) {
        JsonObject on = complete("\"temperature\": 0, \"logprobs\": 0, \"speculation\": {\"num_draft_tokens\": 3}, "
                + fields);
        JsonObject off = complete("\"temperature\": 0, \"logprobs\": 0, \"speculation\": {\"enabled\": false}, "
                + fields);
        assertEquals(text(off), text(on), "speculation changed the output of " + fields);
        assertTrue(on.getAsJsonObject("metrics").getAsJsonObject("speculative_decoding").get("num_draft_tokens")
                .getAsInt() > 0, "speculated");
        return on;
    }

    static int repeats(int[] tokens) {
        return tokens.length - (int) Arrays.stream(tokens).distinct().count();
    }

    @Test
    void logitBiasBansAndForcesTokens() {
        int[] free = tokens(greedyBothWays("\"max_tokens\": 12, \"ignore_eos\": true"));
        int[] banned = tokens(greedyBothWays("\"max_tokens\": 12, \"ignore_eos\": true, \"logit_bias\": {\""
                + free[0] + "\": -100}"));
        assertNotEquals(free[0], banned[0]);
        String forced = api.post("/detokenize", body("{\"tokens\": [300, 300, 300, 300, 300]}")).json().get("prompt")
                .getAsString();
        assertEquals(forced, text(greedyBothWays("\"max_tokens\": 5, \"ignore_eos\": true, \"logit_bias\": "
                + "{\"300\": 100}")));
    }

    @Test
    void penaltiesReduceRepeats() {
        // EOS (token 0) banned rather than ignored, so that every token is text that tokenizes back
        String common = "\"max_tokens\": 80, \"logit_bias\": {\"0\": -100}";
        int free = repeats(tokens(greedyBothWays(common)));
        assertTrue(free >= 10, "the embedded target must repeat itself for this test: " + free);
        assertTrue(repeats(tokens(greedyBothWays(common + ", \"frequency_penalty\": 2"))) < free);
        assertTrue(repeats(tokens(greedyBothWays(common + ", \"presence_penalty\": 2"))) < free);
        assertTrue(repeats(tokens(greedyBothWays(common + ", \"repetition_penalty\": 2"))) < free);
    }

    @Test
    void stopTokenIdsStopAndMinTokensHoldThemBack() {
        String common = "\"max_tokens\": 30, \"logit_bias\": {\"0\": -100}";
        int[] free = tokens(greedyBothWays(common));
        int stop = free[3];
        int first = 0;
        while (free[first] != stop) {
            first++;
        }
        JsonObject stopped = greedyBothWays(common + ", \"stop_token_ids\": [" + stop + "]");
        assertEquals("stop", stopped.getAsJsonArray("choices").get(0).getAsJsonObject().get("finish_reason")
                .getAsString());
        assertEquals(first, stopped.getAsJsonObject("usage").get("completion_tokens").getAsInt());
        JsonObject held = greedyBothWays(common + ", \"stop_token_ids\": [" + stop + "], \"min_tokens\": "
                + (first + 10));
        assertTrue(held.getAsJsonObject("usage").get("completion_tokens").getAsInt() >= first + 10, held.toString());
    }

    @Test
    void minPOfOneLeavesOnlyTheMostLikelyToken() {
        String greedy = text(greedyBothWays("\"max_tokens\": 20, \"ignore_eos\": true"));
        assertEquals(greedy, text(complete("\"max_tokens\": 20, \"ignore_eos\": true, \"temperature\": 1, "
                + "\"min_p\": 1, \"seed\": 5")));
    }

    @Test
    void aSeededRequestGivesTheSameTextWhicheverDraftAndWithoutSpeculation() {
        String common = "\"max_tokens\": 40, \"ignore_eos\": true, \"temperature\": 0.9, \"top_p\": 0.95, \"seed\": 7";
        String off = text(complete(common + ", \"speculation\": {\"enabled\": false}"));
        List<String> ways = List.of("{\"num_draft_tokens\": 1}", "{\"num_draft_tokens\": 4}",
                "{\"draft\": \"sql\", \"num_draft_tokens\": 3}", "{\"draft\": \"math\", \"num_draft_tokens\": 3}",
                "{}");
        for (String way : ways) {
            JsonObject on = complete(common + ", \"speculation\": " + way);
            assertEquals(off, text(on), way);
        }
        assertNotEquals(off, text(complete(common.replace("\"seed\": 7", "\"seed\": 8")
                + ", \"speculation\": {\"enabled\": false}")));
        String shaped = common + ", \"frequency_penalty\": 1, \"logit_bias\": {\"300\": 3}";
        assertEquals(text(complete(shaped + ", \"speculation\": {\"enabled\": false}")),
                text(complete(shaped + ", \"speculation\": {\"draft\": \"code\", \"num_draft_tokens\": 3}")));
    }

    @Test
    void bestOfReturnsTheGenerationWithTheHighestMeanLogprobAndCountsThemAll() {
        String common = "\"max_tokens\": 12, \"ignore_eos\": true, \"temperature\": 1.2, \"seed\": 11";
        // best_of's generation j has seed + j, as choice j of n does: the four candidates, with their logprobs
        JsonObject four = complete(common + ", \"n\": 4, \"logprobs\": 0");
        double best = Double.NEGATIVE_INFINITY;
        String bestText = null;
        for (JsonElement c : four.getAsJsonArray("choices")) {
            JsonArray lps = c.getAsJsonObject().getAsJsonObject("logprobs").getAsJsonArray("token_logprobs");
            double mean = 0;
            for (JsonElement lp : lps) {
                mean += lp.getAsDouble() / lps.size();
            }
            if (mean > best) {
                best = mean;
                bestText = c.getAsJsonObject().get("text").getAsString();
            }
        }
        JsonObject chosen = complete(common + ", \"best_of\": 4");
        assertEquals(1, chosen.getAsJsonArray("choices").size());
        assertEquals(bestText, text(chosen));
        assertTrue(chosen.getAsJsonArray("choices").get(0).getAsJsonObject().get("logprobs").isJsonNull(),
                "logprobs only when asked for");
        assertEquals(four.getAsJsonObject("usage"), chosen.getAsJsonObject("usage"), "usage counts all four");
    }

    @Test
    void echoPutsThePromptFirstWholeAndStreamed() {
        String plain = text(complete("\"max_tokens\": 8, \"temperature\": 0"));
        assertEquals(PROMPT + plain, text(complete("\"max_tokens\": 8, \"temperature\": 0, \"echo\": true")));
        HttpClientSupport.Stream s = api.stream("/v1/completions", body("{\"prompt\": \"" + PROMPT
                + "\", \"max_tokens\": 8, \"temperature\": 0, \"echo\": true, \"stream\": true}"));
        StringBuilder streamed = new StringBuilder();
        for (JsonObject e : s.events()) {
            for (JsonElement c : e.getAsJsonArray("choices")) {
                streamed.append(c.getAsJsonObject().get("text").getAsString());
            }
        }
        assertEquals(PROMPT + plain, streamed.toString());
    }

    /**
     * echo with logprobs, OpenAI's legacy shape: the prompt's tokens first (the first one's logprob and
     * top_logprobs null, nothing predicts it), then the completion's, each with top_logprobs of the size asked,
     * text_offset through the whole text; the text is prompt + completion, the completion's entries those the
     * same request without echo gets, and the stream says the same.
     */
    @Test
    void echoWithLogprobsPutsThePromptsTokensAndLogprobsFirstWholeAndStreamed() {
        int top = 3;
        String fields = "\"max_tokens\": 8, \"temperature\": 0, \"logprobs\": " + top;
        JsonObject plain = complete(fields);
        JsonObject echoed = complete(fields + ", \"echo\": true");
        assertEquals(PROMPT + text(plain), text(echoed));
        int promptTokens = echoed.getAsJsonObject("usage").get("prompt_tokens").getAsInt();
        JsonObject lp = echoed.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs");
        JsonObject completionLp = plain.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs");
        JsonArray tokens = lp.getAsJsonArray("tokens");
        JsonArray logprobs = lp.getAsJsonArray("token_logprobs");
        JsonArray tops = lp.getAsJsonArray("top_logprobs");
        JsonArray offsets = lp.getAsJsonArray("text_offset");
        int completionTokens = completionLp.getAsJsonArray("tokens").size();
        assertTrue(promptTokens > 3, "a prompt of " + promptTokens + " tokens");
        assertEquals(promptTokens + completionTokens, tokens.size(), lp.toString());
        assertEquals(tokens.size(), logprobs.size());
        assertEquals(tokens.size(), tops.size());
        assertEquals(tokens.size(), offsets.size());
        assertTrue(logprobs.get(0).isJsonNull(), "the first prompt token has no logprob: " + logprobs.get(0));
        assertTrue(tops.get(0).isJsonNull(), "nor alternatives: " + tops.get(0));
        for (int i = 1; i < tokens.size(); i++) {
            double v = logprobs.get(i).getAsDouble();
            assertTrue(Double.isFinite(v) && v <= 0, "token " + i + ": " + v);
            assertEquals(top, tops.get(i).getAsJsonObject().size(), "token " + i + ": " + tops.get(i));
        }
        assertEquals(0, offsets.get(0).getAsInt());
        for (int i = 1; i < offsets.size(); i++) {
            assertTrue(offsets.get(i).getAsInt() >= offsets.get(i - 1).getAsInt(), "text_offset " + offsets);
        }
        assertEquals(PROMPT.length(), offsets.get(promptTokens).getAsInt(), "the completion starts after the prompt");
        // the completion's part is what the same request without echo reports (greedy: the same tokens)
        for (String field : new String[] {"tokens", "token_logprobs", "top_logprobs"}) {
            JsonArray whole = lp.getAsJsonArray(field);
            JsonArray tail = new JsonArray();
            for (int i = promptTokens; i < whole.size(); i++) {
                tail.add(whole.get(i));
            }
            assertEquals(completionLp.getAsJsonArray(field), tail, field);
        }
        // streamed: the same text, and the chunks' logprobs add up to the whole answer's
        HttpClientSupport.Stream s = api.stream("/v1/completions", body("{\"prompt\": \"" + PROMPT + "\", " + fields
                + ", \"echo\": true, \"stream\": true}"));
        StringBuilder streamed = new StringBuilder();
        JsonObject joined = new JsonObject();
        for (String field : new String[] {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) {
            joined.add(field, new JsonArray());
        }
        for (JsonObject e : s.events()) {
            for (JsonElement c : e.getAsJsonArray("choices")) {
                JsonObject choice = c.getAsJsonObject();
                streamed.append(choice.get("text").getAsString());
                if (choice.has("logprobs") && !choice.get("logprobs").isJsonNull()) {
                    for (String field : joined.keySet()) {
                        joined.getAsJsonArray(field).addAll(choice.getAsJsonObject("logprobs").getAsJsonArray(field));
                    }
                }
            }
        }
        assertEquals(text(echoed), streamed.toString());
        assertEquals(lp, joined, "the stream's logprobs are the whole answer's");
    }

    @Test
    void badValuesAreRefusedNamingTheField() {
        List<String[]> cases = new ArrayList<>();
        cases.add(new String[] {"\"logit_bias\": {\"99999\": 5}", "logit_bias"});
        cases.add(new String[] {"\"stop_token_ids\": [99999]", "stop_token_ids"});
        cases.add(new String[] {"\"min_tokens\": 20, \"max_tokens\": 10", "min_tokens"});
        cases.add(new String[] {"\"best_of\": 2, \"n\": 3", "best_of"});
        cases.add(new String[] {"\"suffix\": \"end\"", "suffix"});
        cases.add(new String[] {"\"presence_penalty\": 3", "presence_penalty"});
        for (String[] c : cases) {
            HttpClientSupport.Reply r = api.post("/v1/completions", "{\"prompt\": \"hi\", " + c[0] + "}");
            assertEquals(400, r.status(), c[0]);
            assertEquals(c[1], r.error().get("param").getAsString(), c[0]);
        }
    }
}
