package dev.osd.engine;

import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a byte-level BPE {@code tokenizer.json} in the Hugging Face format (the GPT-2 / Llama-3 family):
 * special tokens first, then the 256 byte symbols, then one token per merge. With no merges it is a plain
 * byte tokenizer, which is what tests use; a trainer supplies merges for a real vocabulary.
 */
public final class ByteLevelBpe {

    private ByteLevelBpe() {
    }

    /** GPT-2's reversible map from bytes to printable characters, as the ByteLevel pre-tokenizer uses. */
    public static char[] byteSymbols() {
        List<Integer> printable = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) {
            printable.add(b);
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            printable.add(b);
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            printable.add(b);
        }
        char[] symbols = new char[256];
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            symbols[b] = printable.contains(b) ? (char) b : (char) (256 + extra++);
        }
        return symbols;
    }

    /**
     * Writes the tokenizer. Ids: special tokens 0.., then bytes, then merged tokens in merge order.
     *
     * @param merges pairs of existing symbols (in byte-symbol spelling), each creating the token left+right
     */
    public static void write(Path file, List<String> specialTokens, List<String[]> merges) throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        List<Map<String, Object>> added = new ArrayList<>();
        for (String s : specialTokens) {
            Map<String, Object> token = new LinkedHashMap<>();
            token.put("id", vocab.size());
            token.put("content", s);
            token.put("single_word", false);
            token.put("lstrip", false);
            token.put("rstrip", false);
            token.put("normalized", false);
            token.put("special", true);
            added.add(token);
            vocab.put(s, vocab.size());
        }
        for (char c : byteSymbols()) {
            vocab.put(String.valueOf(c), vocab.size());
        }
        List<String> mergeLines = new ArrayList<>();
        for (String[] m : merges) {
            String merged = m[0] + m[1];
            if (!vocab.containsKey(m[0]) || !vocab.containsKey(m[1])) {
                throw new IllegalArgumentException("merge of unknown symbols " + m[0] + " " + m[1]);
            }
            vocab.putIfAbsent(merged, vocab.size());
            mergeLines.add(m[0] + " " + m[1]);
        }
        Map<String, Object> byteLevel = new LinkedHashMap<>();
        byteLevel.put("type", "ByteLevel");
        byteLevel.put("add_prefix_space", false);
        byteLevel.put("trim_offsets", true);
        byteLevel.put("use_regex", true);
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", null);
        model.put("unk_token", null);
        model.put("continuing_subword_prefix", null);
        model.put("end_of_word_suffix", null);
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("vocab", vocab);
        model.put("merges", mergeLines);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("version", "1.0");
        json.put("truncation", null);
        json.put("padding", null);
        json.put("added_tokens", added);
        json.put("normalizer", null);
        json.put("pre_tokenizer", byteLevel);
        json.put("post_processor", byteLevel);
        json.put("decoder", byteLevel);
        json.put("model", model);
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, new GsonBuilder().serializeNulls().setPrettyPrinting().disableHtmlEscaping()
                .create().toJson(json), StandardCharsets.UTF_8);
    }
}
