package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Input as hostile production traffic sends it (issue 15): every fault of the client is a 4xx with OpenAI's
 * error object, nothing it sends overflows an arithmetic limit, and a client that goes away is a counted,
 * normal end. One embedded server, target-only drafts learning nothing, four slots.
 */
class HardeningTest {

    static ServingStack stack;
    static HttpServer server;
    static HttpClientSupport api;

    @BeforeAll
    static void start() {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        stack = ServingStack.embedded("hardening", new ServingStack.Options(false, true, null,
                new ServingSystem.Settings(4, 16, Duration.ofSeconds(2), 0.1, 1, 8), null));
        server = HttpServer.start(stack.system(), stack.tokenizer(), HttpServer.Settings.builder().optPort(0)
                .optBodyTimeout(Duration.ofSeconds(1)).optMaxGenerationsPerRequest(8).build());
        api = new HttpClientSupport(server.url());
    }

    @AfterAll
    static void stop() {
        server.close();
        stack.close();
    }

    static void assertError(HttpClientSupport.Reply r, int status, String param, String what) {
        assertEquals(status, r.status(), what + " -> " + r.body());
        JsonObject error = r.error();
        assertTrue(error.has("type") && !error.get("message").getAsString().isEmpty(), what + " -> " + r.body());
        if (param == null) {
            assertTrue(error.get("param").isJsonNull(), what + " -> " + r.body());
        } else {
            assertEquals(param, error.get("param").getAsString(), what + " -> " + r.body());
        }
    }

    // issue 15 #3: max_tokens at the top of the int range overflowed prompt + max_tokens and answered 500
    @Test
    void theLargestMaxTokensIsRefusedAsTooLongNotOverflowed() {
        HttpClientSupport.Reply r = api.post("/v1/completions",
                "{\"prompt\": \"Hello\", \"max_tokens\": 2147483647}");
        assertError(r, 400, "max_tokens", "completions");
        assertEquals("context_length_exceeded", r.error().get("code").getAsString());
        HttpClientSupport.Reply chat = api.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", "
                + "\"content\": \"Hi\"}], \"max_completion_tokens\": 2147483647}");
        assertError(chat, 400, "max_completion_tokens", "chat");
        assertError(api.post("/v1/completions", "{\"prompt\": \"Hello\", \"max_tokens\": 2147483648}"), 400,
                "max_tokens", "past the int range");
    }

    // issue 15 #9: the smallest signed 64-bit seed was refused
    @Test
    void everySigned64BitSeedIsAcceptedAndNothingPastIt() {
        for (String seed : List.of("-9223372036854775808", "9223372036854775807", "0", "-1", "1e3")) {
            String body = "{\"prompt\": \"Hello\", \"max_tokens\": 3, \"temperature\": 1, \"seed\": " + seed + "}";
            HttpClientSupport.Reply first = api.post("/v1/completions", body);
            assertEquals(200, first.status(), seed + " -> " + first.body());
            // the same seed samples the same text
            String text = first.json().getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
            HttpClientSupport.Reply again = api.post("/v1/completions", body);
            assertEquals(text, again.json().getAsJsonArray("choices").get(0).getAsJsonObject().get("text")
                    .getAsString(), seed);
        }
        for (String seed : List.of("9223372036854775808", "-9223372036854775809", "1.5", "1e19", "\"7\"")) {
            assertError(api.post("/v1/completions", "{\"prompt\": \"Hello\", \"seed\": " + seed + "}"), 400, "seed",
                    seed);
        }
    }

    // issue 15 #8: a lenient parser took all of these with 200
    @Test
    void onlyStrictJsonIsAccepted() {
        List<String> lenient = List.of(
                "{prompt: \"Hello\", \"max_tokens\": 2}",
                "{\"prompt\": Hello, \"max_tokens\": 2}",
                "{'prompt': 'Hello', \"max_tokens\": 2}",
                "{\"prompt\": \"Hello\" /* a comment */, \"max_tokens\": 2}",
                "{\"prompt\": \"Hello\", # a comment\n \"max_tokens\": 2}",
                "{\"prompt\": \"Hello\"; \"max_tokens\": 2}",
                "{\"prompt\" = \"Hello\", \"max_tokens\": 2}",
                "{\"prompt\" => \"Hello\", \"max_tokens\": 2}",
                "{\"prompt\": \"Hello\", \"temperature\": NaN}",
                "{\"prompt\": \"Hello\", \"temperature\": Infinity}",
                "{\"prompt\": \"Hello\", \"temperature\": -Infinity}",
                "{\"prompt\": \"Hello\", \"max_tokens\": 2,}",
                "{\"prompt\": [\"a\",,\"b\"]}",
                "{\"prompt\": \"Hello\"} {\"prompt\": \"again\"}",
                "{\"prompt\": \"Hello\"} trailing",
                ")]}'\n{\"prompt\": \"Hello\"}",
                "{\"prompt\": \"Hello\", \"max_tokens\": 02}",
                "{\"prompt\": \"Hello\", \"max_tokens\": 0x10}",
                "",
                "{\"prompt\": \"" + "[".repeat(3) + "\", \"stop\": " + "[".repeat(40) + "]".repeat(40) + "}",
                "{\"prompt\": \"Hello\", \"seed\": " + "1".repeat(200) + "}");
        for (String body : lenient) {
            assertError(api.post("/v1/completions", body), 400, null, body);
        }
        // a name given twice is ambiguous: refused naming it
        assertError(api.post("/v1/completions", "{\"prompt\": \"Hello\", \"max_tokens\": 2, \"max_tokens\": 9}"), 400,
                "max_tokens", "duplicate");
        // and strict JSON with every kind of value still goes through
        assertEquals(200, api.post("/v1/completions", "{\"prompt\": \"Hello\\u0021\", \"max_tokens\": 2, "
                + "\"temperature\": 0.0e0, \"stop\": null, \"echo\": false, \"stream\": false}").status());
    }

    /** Sends raw bytes and reads the response to the end (the server closes after a body fault). */
    static String raw(String request, boolean closeOutput) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(20_000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.UTF_8));
            out.flush();
            if (closeOutput) {
                s.shutdownOutput();
            }
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[4096];
            try {
                for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                    got.write(buf, 0, n);
                    if (got.toString(StandardCharsets.UTF_8).contains("}}")) {
                        break; // the whole error object is in
                    }
                }
            } catch (IOException reset) {
                // the server may reset the connection after its answer
            }
            return got.toString(StandardCharsets.UTF_8);
        }
    }

    static int status(String response) {
        assertTrue(response.startsWith("HTTP/1.1 "), response);
        return Integer.parseInt(response.substring(9, 12));
    }

    static JsonObject errorOf(String response) {
        return JsonParser.parseString(response.substring(response.indexOf("\r\n\r\n") + 4)).getAsJsonObject()
                .getAsJsonObject("error");
    }

    // issue 15 #5: client-side body faults answered 500 with a stack trace
    @Test
    void aStalledBodyIs408() throws IOException {
        String head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
        String stalled = raw(head + "Content-Length: 100\r\n\r\n{\"prompt\": ", false);
        assertEquals(408, status(stalled), stalled);
        assertEquals("invalid_request_error", errorOf(stalled).get("type").getAsString());
    }

    @Test
    void aBadChunkIs400() throws IOException {
        String head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
        String badChunk = raw(head + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"pro\r\nzz\r\nmpt\r\n0\r\n\r\n", false);
        assertEquals(400, status(badChunk), badChunk);
        assertTrue(badChunk.contains("\"error\""), badChunk);
    }

    @Test
    void aTruncatedChunkedBodyIs400() throws IOException {
        String head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
        // a chunk announced longer than what comes before the connection's end
        String truncated = raw(head + "Transfer-Encoding: chunked\r\n\r\n40\r\n{\"prompt\": \"Hel", true);
        assertTrue(truncated.isEmpty() || status(truncated) == 400, truncated);
        // nothing above wedged the server
        assertEquals(200, api.post("/v1/completions", HttpApiTest.completion("Hello", 2)).status());
    }

    // issue 15 #4: a client that went away broke the request metrics with a NullPointerException
    @Test
    void aClientThatGoesAwayIsCountedAsCancelled() throws Exception {
        double before = cancelled();
        String body = "{\"prompt\": \"Hello\", \"max_tokens\": 200, \"ignore_eos\": true, \"stream\": true, "
                + "\"temperature\": 0}";
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(20_000);
            s.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                    + "\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            InputStream in = s.getInputStream();
            StringBuilder got = new StringBuilder();
            // the first token's event: the generation runs
            while (!got.toString().contains("data: {")) {
                int c = in.read();
                assertTrue(c >= 0, got.toString());
                got.append((char) c);
            }
            // gone as a killed client goes (a reset): Pekko notices it at its next write, while a polite close
            // (FIN) is only seen once writes start failing, which can be after a short generation has ended
            s.setSoLinger(true, 0);
        }
        Eventually.awaitAssert(Duration.ofSeconds(20), () -> assertEquals(before + 1, cancelled(),
                "the cancelled request is counted"));
        // and the slot it held is free: four requests at once fit the four slots
        assertEquals(200, api.post("/v1/completions", "{\"prompt\": [\"a\", \"b\"], \"n\": 2, \"max_tokens\": 2}")
                .status());
    }

    // issue 15 #6: "^(a+)+\\1$" stalled the router for good; every later request ran without a draft
    @Test
    void aRoutingPatternCannotStallTheRouter() {
        HttpClientSupport.Reply refused = api.post("/v1/drafts", "{\"name\": \"backtrack\", \"patterns\": "
                + "[\"^(a+)+\\\\1$\"]}");
        assertError(refused, 400, "patterns", "a backreference");
        assertTrue(refused.error().get("message").getAsString().contains("^(a+)+\\1$"), refused.body());
        // nested quantifiers are fine under RE2: linear time
        HttpClientSupport.Reply added = api.post("/v1/drafts", "{\"name\": \"nested\", \"patterns\": "
                + "[\"^(a+)+$\"]}");
        assertEquals(201, added.status(), added.body());
        try {
            for (int i = 0; i < 3; i++) {
                HttpClientSupport.Reply r = api.post("/v1/completions", HttpApiTest.completion("a".repeat(40) + "!",
                        2));
                assertEquals(200, r.status(), r.body());
                // the router answered within its timeout: the request was served by a draft, not target-only
                assertEquals("general", r.json().getAsJsonObject("metrics").getAsJsonObject("speculative_decoding")
                        .get("draft").getAsString(), r.body());
            }
        } finally {
            assertEquals(200, api.delete("/v1/drafts/nested").status());
        }
    }

    // issue 15 #1: 2,048 prompts × n 16 in a 12 KB body generated for 15 s before its 429; 10,000 × 16 got no answer
    @Test
    void aRequestsFanOutIsCappedBeforeAnyWorkStarts() {
        double before = requests();
        StringBuilder prompts = new StringBuilder();
        for (int i = 0; i < 10_000; i++) {
            prompts.append(i == 0 ? "" : ",").append("\"x\"");
        }
        long start = System.nanoTime();
        HttpClientSupport.Reply huge = api.post("/v1/completions", "{\"prompt\": [" + prompts + "], \"n\": 16, "
                + "\"max_tokens\": 200}");
        assertError(huge, 400, "prompt", "10,000 prompts × 16");
        assertTrue(System.nanoTime() - start < 5_000_000_000L, "refused at once");
        assertError(api.post("/v1/completions", "{\"prompt\": [\"a\", \"b\", \"c\"], \"n\": 3}"), 400, "n",
                "9 generations over the cap of 8");
        // under the cap but over the four slots: it could never be admitted whole
        assertError(api.post("/v1/completions", "{\"prompt\": \"x\", \"n\": 5}"), 400, "n", "5 over 4 slots");
        assertEquals(before, requests(), "no generation ran for any of them");
    }

    // issue 15 #2: n > 1 that only partly fit was refused after the choices that got a slot had finished
    @Test
    void aRequestThatDoesNotFitWholeIsRefusedWholeAtOnce() throws Exception {
        JsonObject holder = HttpApiTest.completion("Hello", 240);
        holder.addProperty("n", 3);
        holder.addProperty("ignore_eos", true);
        holder.addProperty("stream", true);
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(60_000);
            String body = holder.toString();
            s.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                    + "\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            InputStream in = s.getInputStream();
            StringBuilder got = new StringBuilder();
            while (!got.toString().contains("data: {")) {
                int c = in.read();
                assertTrue(c >= 0, got.toString());
                got.append((char) c);
            }
            // three of four slots are taken: two more choices do not fit, and nothing of them runs
            double before = requests();
            long start = System.nanoTime();
            HttpClientSupport.Reply refused = api.post("/v1/completions", "{\"prompt\": \"Hi\", \"n\": 2, "
                    + "\"max_tokens\": 4}");
            assertError(refused, 429, null, "2 of 1 free slot");
            assertEquals("1", refused.raw().headers().firstValue("Retry-After").orElse(null));
            assertTrue(System.nanoTime() - start < 2_000_000_000L, "refused at once, not after the choices ran");
            // the holder was not disturbed: its three choices stream to their end
            for (int c = in.read(); c >= 0 && !got.toString().endsWith("data: [DONE]\n\n"); c = in.read()) {
                got.append((char) c);
            }
            assertTrue(got.toString().endsWith("data: [DONE]\n\n"), got.toString());
            assertEquals(3, got.toString().split("\"finish_reason\":\"length\"", -1).length - 1, got.toString());
            assertEquals(before + 3, requests(), "the holder's three finished; the refused request ran nothing");
        }
    }

    static double requests() {
        return api.metrics("osd_requests_total").values().stream().mapToDouble(Double::doubleValue).sum();
    }

    static double cancelled() {
        double n = 0;
        for (Map.Entry<String, Double> e : api.metrics("osd_requests_total").entrySet()) {
            if (e.getKey().contains("outcome=\"cancelled\"")) {
                n += e.getValue();
            }
        }
        return n;
    }

    // issue 12: an HTTP request deadline (osd.serve.request-timeout) ends a completion with the OpenAI error
    // object, not Pekko's plain-text 503, and frees its caches
    @Test
    void aCompletionPastTheRequestTimeoutAnswers504AndFreesItsCaches() throws Exception {
        try (HttpServer hurried = HttpServer.start(stack.system(), stack.tokenizer(), HttpServer.Settings.builder()
                .optPort(0).optRequestTimeout(Duration.ofMillis(1)).build())) {
            HttpClientSupport.Reply r = new HttpClientSupport(hurried.url()).post("/v1/completions",
                    "{\"prompt\": \"Hello\", \"max_tokens\": 200, \"ignore_eos\": true}");
            assertError(r, 504, null, "past the deadline");
            assertEquals("deadline_exceeded", r.error().get("code").getAsString());
            Eventually.awaitAssert(Duration.ofSeconds(10), () -> assertEquals(0,
                    stack.system().targetStats().openCaches()));
        }
    }
}
