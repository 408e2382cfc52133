package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint with a {@code tokenizer_config.json} and a Zephyr-style Jinja {@code chat_template} (the embedded
 * target copied, the config added), served over HTTP: chats are rendered by its template, tool calls and tool
 * results included; a conversation the template refuses is a 400 on {@code messages}; completions get BOS as the
 * config says (here: none, though config.json names one); {@code tools}, {@code tool_choice} and
 * {@code response_format} are refused by name. The embedded models, which have no template, refuse tool messages.
 */
class ChatTemplateServingTest {

    static final String TEMPLATE = "{% if messages[0]['role'] == 'assistant' %}"
            + "{{ raise_exception('Conversations must start with a system or user message') }}{% endif %}"
            + "{% for message in messages %}"
            + "{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + eos_token }}"
            + "{% elif message['role'] == 'system' %}{{ '<|system|>\\n' + message['content'] + eos_token }}"
            + "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n' }}"
            + "{% if message.tool_calls %}{% for call in message.tool_calls %}"
            + "{{ call.function.name + '(' + (call.function.arguments | tojson) + ')' }}{% endfor %}"
            + "{% else %}{{ message['content'] }}{% endif %}{{ eos_token }}"
            + "{% elif message['role'] == 'tool' %}{{ '<|tool|>\\n' + message['content'] + eos_token }}{% endif %}"
            + "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}{% endfor %}";

    @TempDir
    static Path temp;
    static ServingStack stack;
    static HttpServer server;
    static HttpClientSupport api;

    @BeforeAll
    static void start() throws IOException, InterruptedException {
        Path root = EmbeddedModelsTest.repositoryRoot();
        System.setProperty("osd.home", root.toString());
        Path model = temp.resolve("zephyr-tiny");
        Files.createDirectories(model);
        try (Stream<Path> files = Files.list(root.resolve("models/target"))) {
            for (Path f : files.toList()) {
                Files.copy(f, model.resolve(f.getFileName()));
            }
        }
        JsonObject config = new JsonObject();
        config.addProperty("bos_token", "<s>");
        config.addProperty("eos_token", "<|endoftext|>");
        config.addProperty("add_bos_token", false);
        config.addProperty("chat_template", TEMPLATE);
        Files.writeString(model.resolve("tokenizer_config.json"), config.toString());
        stack = ServingStack.of("chat-template", model, null, new ServingStack.Options(false, true, null,
                new ServingSystem.Settings(4, 8, Duration.ofSeconds(2), 0.1, 1, 4), null));
        stack.awaitReady(Duration.ofMinutes(1));
        server = HttpServer.start(stack.system(), stack.tokenizer(), stack.tokenizerConfig(),
                HttpServer.Settings.builder().optPort(0).optModel("zephyr-tiny").build());
        api = new HttpClientSupport(server.url());
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    static JsonObject body(String json) {
        return JsonParser.parseString(json).getAsJsonObject();
    }

    static int[] ids(JsonArray a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }

    @Test
    void chatsAreRenderedByTheCheckpointsTemplate() {
        String messages = "[{\"role\": \"system\", \"content\": \"Be brief.\"}, "
                + "{\"role\": \"user\", \"content\": \"All users\"}]";
        JsonObject tokens = api.post("/tokenize", body("{\"messages\": " + messages + "}")).json();
        assertArrayEquals(stack.tokenizer().encode(
                "<|system|>\nBe brief.<|endoftext|><|user|>\nAll users<|endoftext|><|assistant|>\n"),
                ids(tokens.getAsJsonArray("tokens")));
        HttpClientSupport.Reply chat = api.post("/v1/chat/completions", body("{\"messages\": " + messages
                + ", \"max_tokens\": 4, \"temperature\": 0}"));
        assertEquals(200, chat.status(), chat.body());
        assertEquals(tokens.get("count").getAsInt(),
                chat.json().getAsJsonObject("usage").get("prompt_tokens").getAsInt());
    }

    @Test
    void toolCallsAndToolResultsRenderThroughTheTemplate() {
        String messages = "[{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, "
                + "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"c1\", \"type\": "
                + "\"function\", \"function\": {\"name\": \"weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}}]}, "
                + "{\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": \"18 C\"}]";
        JsonObject tokens = api.post("/tokenize", body("{\"messages\": " + messages + "}")).json();
        assertArrayEquals(stack.tokenizer().encode("<|user|>\nWeather in Paris?<|endoftext|><|assistant|>\n"
                + "weather({\"city\": \"Paris\"})<|endoftext|><|tool|>\n18 C<|endoftext|><|assistant|>\n"),
                ids(tokens.getAsJsonArray("tokens")));
        HttpClientSupport.Reply chat = api.post("/v1/chat/completions", body("{\"messages\": " + messages
                + ", \"max_tokens\": 4}"));
        assertEquals(200, chat.status(), chat.body());
        HttpClientSupport.Reply orphan = api.post("/v1/chat/completions",
                body("{\"messages\": [{\"role\": \"tool\", \"content\": \"18 C\"}]}"));
        assertEquals(400, orphan.status(), orphan.body());
        assertEquals("messages[0].tool_call_id", orphan.error().get("param").getAsString());
    }

    @Test
    void aConversationTheTemplateRefusesIsA400OnMessages() {
        HttpClientSupport.Reply r = api.post("/v1/chat/completions",
                body("{\"messages\": [{\"role\": \"assistant\", \"content\": \"Hi\"}]}"));
        assertEquals(400, r.status(), r.body());
        assertEquals("messages", r.error().get("param").getAsString());
        assertTrue(r.error().get("message").getAsString().contains("must start with a system or user message"),
                r.body());
    }

    @Test
    void completionsGetTheSpecialTokensTheConfigSays() {
        String prompt = "SELECT name FROM users";
        JsonObject tokens = api.post("/tokenize", body("{\"prompt\": \"" + prompt + "\"}")).json();
        // add_bos_token is false: no BOS, though config.json names bos_token_id 1
        assertArrayEquals(stack.tokenizer().encode(prompt), ids(tokens.getAsJsonArray("tokens")));
        JsonObject completion = api.post("/v1/completions", body("{\"prompt\": \"" + prompt
                + "\", \"max_tokens\": 2}")).json();
        assertEquals(tokens.get("count").getAsInt(), completion.getAsJsonObject("usage").get("prompt_tokens")
                .getAsInt());
    }

    @Test
    void toolsToolChoiceAndResponseFormatAreRefusedByName() {
        String messages = "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]";
        for (String field : new String[] {
            "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"weather\"}}]",
            "\"tool_choice\": \"required\"", "\"response_format\": {\"type\": \"json_object\"}"}) {
            HttpClientSupport.Reply r = api.post("/v1/chat/completions", body("{" + messages + ", " + field + "}"));
            assertEquals(400, r.status(), r.body());
            String name = field.substring(1, field.indexOf('"', 1));
            assertEquals(name, r.error().get("param").getAsString());
            assertEquals("unsupported_parameter", r.error().get("code").getAsString());
        }
        HttpClientSupport.Reply extra = api.post("/v1/chat/completions",
                body("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\", \"audio\": {\"id\": \"a\"}}]}"));
        assertEquals(400, extra.status(), extra.body());
        assertEquals("messages[0].audio", extra.error().get("param").getAsString());
    }

    @Test
    void theEmbeddedModelsWithoutATemplateRefuseToolMessages() {
        try (ServingStack embedded = ServingStack.embedded("no-template", new ServingStack.Options(false, false,
                null, new ServingSystem.Settings(2, 4, Duration.ofSeconds(2), 0.1, 1, 4), null));
                HttpServer plain = HttpServer.start(embedded.system(), embedded.tokenizer(),
                        embedded.tokenizerConfig(), HttpServer.Settings.builder().optPort(0).build())) {
            HttpClientSupport client = new HttpClientSupport(plain.url());
            HttpClientSupport.Reply r = client.post("/v1/chat/completions", body("{\"messages\": [{\"role\": \"user\", "
                    + "\"content\": \"hi\"}, {\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": \"x\"}]}"));
            assertEquals(400, r.status(), r.body());
            assertEquals("messages[1].role", r.error().get("param").getAsString());
            // and their own format holds: BOS first, the embedded markers
            JsonObject t = client.post("/tokenize", body("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"))
                    .json();
            int[] expected = embedded.tokenizer().encode("<|user|>hi\n<|assistant|>");
            int[] got = ids(t.getAsJsonArray("tokens"));
            assertEquals(1, got[0]);
            assertArrayEquals(expected, java.util.Arrays.copyOfRange(got, 1, got.length));
        }
    }
}
