package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chat templates rendered through Jinjava against the strings Jinja2 gives with transformers' settings
 * (trim_blocks, lstrip_blocks; the expected strings were checked with Jinja2 3.1).
 */
class ChatTemplateTest {

    @TempDir
    Path dir;

    /** TinyLlama-1.1B-Chat-v1.0's (Zephyr's) template, verbatim from its tokenizer_config.json. */
    static final String ZEPHYR = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n'"
            + " + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' +"
            + " message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'"
            + "  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n"
            + "{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

    /** Mistral-style: alternation enforced with raise_exception, a system prompt folded into the first turn. */
    static final String ALTERNATING = """
            {%- if messages[0]['role'] == 'system' %}
                {%- set system_message = messages[0]['content'] | trim %}
                {%- set loop_messages = messages[1:] %}
            {%- else %}
                {%- set system_message = '' %}
                {%- set loop_messages = messages %}
            {%- endif %}
            {{- bos_token }}
            {%- for message in loop_messages %}
                {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
                    {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
                {%- endif %}
                {%- if message['role'] == 'user' %}
                    {%- if loop.first and system_message != '' %}
                        {{- '[INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
                    {%- else %}
                        {{- '[INST] ' + message['content'] + ' [/INST]' }}
                    {%- endif %}
                {%- else %}
                    {{- ' ' + message['content'] | trim + eos_token }}
                {%- endif %}
            {%- endfor %}
            {%- if tools is defined and tools is not none %}{{- '[TOOLS]' + tools | tojson }}{%- endif %}""";

    private static List<ChatTemplate.Message> chat() {
        return List.of(new ChatTemplate.Message("system", "You are terse. "),
                new ChatTemplate.Message("user", " Hi there!\n"),
                new ChatTemplate.Message("assistant", "Hello."),
                new ChatTemplate.Message("user", "Bye"));
    }

    @Test
    void zephyrAsTransformersRendersIt() {
        ChatTemplate t = new ChatTemplate(ZEPHYR, "<s>", "</s>", dir);
        assertEquals("<|system|>\nYou are terse. </s>\n<|user|>\n Hi there!\n</s>\n<|assistant|>\nHello.</s>\n"
                + "<|user|>\nBye</s>\n<|assistant|>\n", t.renderMessages(chat(), true));
        assertEquals("<|user|>\nHi</s>\n", t.renderMessages(List.of(new ChatTemplate.Message("user", "Hi")), false));
    }

    @Test
    void whitespaceControlSlicesAndRaiseException() {
        ChatTemplate t = new ChatTemplate(ALTERNATING, "<s>", "</s>", dir);
        assertEquals("<s>[INST] You are terse.\n\n Hi there!\n [/INST] Hello.</s>[INST] Bye [/INST]",
                t.renderMessages(chat(), true));
        ChatTemplate.Refused e = assertThrows(ChatTemplate.Refused.class, () -> t.renderMessages(List.of(
                new ChatTemplate.Message("user", "a"), new ChatTemplate.Message("user", "b")), true));
        assertEquals("Conversation roles must alternate user/assistant/user/assistant/...", e.getMessage());
        List<Map<String, Object>> messages = List.of(new ChatTemplate.Message("user", "q").toMap());
        assertEquals("<s>[INST] q [/INST][TOOLS][{\"name\": \"f\", \"parameters\": {\"n\": 1, \"s\": \"é\\\"\", \"x\": 0.5}}]",
                t.render(messages, true, Map.of("tools", List.of(new TreeMap<>(Map.of("name", "f",
                        "parameters", new TreeMap<>(Map.of("n", 1, "x", 0.5, "s", "é\""))))))));
    }

    @Test
    void pythonJsonAndStrftime() {
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("a", Arrays.asList(1, 2.0, null, true));
        value.put("b", 1e-5);
        value.put("c", 1e-4);
        assertEquals("{\"a\": [1, 2.0, null, true], \"b\": 1e-05, \"c\": 0.0001}", ChatTemplate.json(value, null));
        assertEquals("[\n  1,\n  \"x\"\n]", ChatTemplate.json(List.of(1, "x"), 2));
        assertEquals("26 Jul 2024", ChatTemplate.strftime(LocalDateTime.of(2024, 7, 26, 9, 5), "%d %b %Y"));
    }

    @Test
    void aTemplateThatDoesNotParseIsRefusedAtLoad() throws IOException {
        TokenizerConfigTest.writeTokenizer(dir);
        Files.writeString(dir.resolve(TokenizerConfig.FILE_NAME),
                "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"chat_template\": \"{% for m in messages %}{{ m.content }\"}");
        CheckpointException e = assertThrows(CheckpointException.class, () -> TokenizerConfig.read(dir));
        assertEquals("chat_template", e.item());
        assertEquals(dir.resolve(TokenizerConfig.FILE_NAME), e.file());
    }
}
