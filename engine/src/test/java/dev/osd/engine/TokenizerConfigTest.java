package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerConfigTest {

    @TempDir
    Path dir;

    /** A byte-level tokenizer.json whose special tokens are <unk> (0), <s> (1) and </s> (2). */
    static void writeTokenizer(Path dir) throws IOException {
        ByteLevelBpe.write(dir.resolve(TextTokenizer.FILE_NAME), List.of("<unk>", "<s>", "</s>"), List.of());
    }

    @Test
    void llama2StyleConfigAddsBosToPlainPromptsNotToChats() throws IOException {
        writeTokenizer(dir);
        Files.writeString(dir.resolve(TokenizerConfig.FILE_NAME), """
                {"add_bos_token": true, "add_eos_token": false, "bos_token": "<s>",
                 "eos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": false},
                 "unk_token": "<unk>", "pad_token": null, "chat_template": %s}"""
                .formatted(new Gson().toJson(ChatTemplateTest.ZEPHYR)));
        TokenizerConfig c = TokenizerConfig.read(dir);
        assertEquals(1, c.bosTokenId());
        assertEquals(2, c.eosTokenId());
        assertTrue(c.addBosToken());
        assertFalse(c.addEosToken());
        assertNull(c.padToken());
        try (TextTokenizer t = TextTokenizer.load(dir)) {
            int[] body = t.encode("hi");
            int[] prompt = c.encodePrompt(t, "hi");
            assertEquals(1, prompt[0]);
            assertEquals(body.length + 1, prompt.length);
            String rendered = c.template().renderMessages(List.of(new ChatTemplate.Message("user", "hi")), true);
            assertEquals("<|user|>\nhi</s>\n<|assistant|>\n", rendered);
            int[] chat = c.encodeChat(t, rendered);
            assertFalse(chat[0] == 1, "the template writes no BOS, so none is added");
            assertTrue(contains(chat, 2), "</s> in the text is the special token");
        }
    }

    @Test
    void withoutAddBosTokenThePostProcessorDecidesAndChatTemplateJinjaWins() throws IOException {
        writeTokenizer(dir);
        Path file = dir.resolve(TextTokenizer.FILE_NAME);
        JsonObject json = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        json.add("post_processor", JsonParser.parseString("""
                {"type": "Sequence", "processors": [{"type": "ByteLevel"}, {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [], "special_tokens": {}}]}"""));
        Files.writeString(file, json.toString());
        Files.writeString(dir.resolve(TokenizerConfig.FILE_NAME),
                "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"chat_template\": \"ignored\"}");
        Files.writeString(dir.resolve(TokenizerConfig.TEMPLATE_FILE), "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}");
        TokenizerConfig c = TokenizerConfig.read(dir);
        assertTrue(c.addBosToken());
        assertFalse(c.addEosToken());
        assertEquals("<s>ab", c.template().renderMessages(List.of(new ChatTemplate.Message("user", "a"),
                new ChatTemplate.Message("assistant", "b")), false));
    }

    @Test
    void noConfigFileMeansNoSpecialTokensAndNoTemplate() throws IOException {
        writeTokenizer(dir);
        TokenizerConfig c = TokenizerConfig.read(dir);
        assertFalse(c.addBosToken());
        assertNull(c.template());
        try (TextTokenizer t = TextTokenizer.load(dir)) {
            assertArrayEquals(t.encode("x"), c.encodePrompt(t, "x"));
        }
    }

    @Test
    void refusalsNameTheFileAndTheField() throws IOException {
        writeTokenizer(dir);
        String[][] cases = {
            {"{\"bos_token\": \"<|begin_of_text|>\"}", "bos_token"},
            {"{\"eos_token\": 2}", "eos_token"},
            {"{\"add_bos_token\": \"yes\", \"bos_token\": \"<s>\"}", "add_bos_token"},
            {"{\"add_bos_token\": true}", "add_bos_token"},
            {"{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"}]}", "chat_template"},
            {"{\"chat_template\": 3}", "chat_template"},
        };
        for (String[] c : cases) {
            Files.writeString(dir.resolve(TokenizerConfig.FILE_NAME), c[0]);
            CheckpointException e = assertThrows(CheckpointException.class, () -> TokenizerConfig.read(dir), c[0]);
            assertEquals(c[1], e.item(), c[0]);
            assertEquals(dir.resolve(TokenizerConfig.FILE_NAME), e.file(), c[0]);
        }
    }

    private static boolean contains(int[] ids, int id) {
        for (int i : ids) {
            if (i == id) {
                return true;
            }
        }
        return false;
    }
}
