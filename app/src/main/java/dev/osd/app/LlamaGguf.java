package dev.osd.app;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.app.GgufWriter.TensorType;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.SafeTensors;
import dev.osd.engine.TextTokenizer;
import dev.osd.engine.WeightFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Converts a Hugging Face Llama checkpoint (config.json, model.safetensors, a byte-level BPE tokenizer.json)
 * into a GGUF file llama.cpp loads: its tensor names, q/k rows permuted for its RoPE, the tokenizer as
 * {@code gpt2} tokens, types and merges, or a byte-fallback BPE (Llama 2's) as llama.cpp's SentencePiece
 * {@code llama} vocabulary. F16 and BF16 keep the matrices in 16 bits and the norms in F32, as llama.cpp's
 * own converter does; F32 stores everything in F32. Weights are read as stored (a sharded BF16 checkpoint
 * stays BF16 in memory) and written in the checkpoint's order.
 */
final class LlamaGguf {

    // llama.cpp's token types (llama_token_type)
    static final int NORMAL = 1;
    static final int UNKNOWN = 2;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int UNUSED = 5;
    static final int BYTE = 6;

    private static final Pattern BYTE_TOKEN = Pattern.compile("<0x[0-9A-F]{2}>");

    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)\\.weight");
    private static final Map<String, String> LAYER_NAMES = Map.of(
            "input_layernorm", "attn_norm",
            "self_attn.q_proj", "attn_q",
            "self_attn.k_proj", "attn_k",
            "self_attn.v_proj", "attn_v",
            "self_attn.o_proj", "attn_output",
            "post_attention_layernorm", "ffn_norm",
            "mlp.gate_proj", "ffn_gate",
            "mlp.up_proj", "ffn_up",
            "mlp.down_proj", "ffn_down");

    private LlamaGguf() {
    }

    /** Writes {@code out} from the checkpoint in {@code modelDir}. */
    static void convert(Path modelDir, Path out, TensorType type) throws IOException {
        LlamaConfig config = LlamaConfig.read(modelDir);
        GgufWriter gguf = new GgufWriter();
        gguf.putString("general.architecture", "llama")
                .putString("general.name", modelDir.toAbsolutePath().normalize().getFileName().toString())
                .putUint32("general.file_type", fileType(type))
                .putUint32("llama.context_length", config.maxPositionEmbeddings())
                .putUint32("llama.embedding_length", config.hiddenSize())
                .putUint32("llama.block_count", config.numHiddenLayers())
                .putUint32("llama.feed_forward_length", config.intermediateSize())
                .putUint32("llama.rope.dimension_count", config.headDim())
                .putUint32("llama.attention.head_count", config.numAttentionHeads())
                .putUint32("llama.attention.head_count_kv", config.numKeyValueHeads())
                .putFloat32("llama.attention.layer_norm_rms_epsilon", config.rmsNormEps())
                .putFloat32("llama.rope.freq_base", config.ropeTheta())
                .putUint32("llama.vocab_size", config.vocabSize());
        addTokenizer(gguf, modelDir.resolve(TextTokenizer.FILE_NAME), config);
        Map<String, SafeTensors.StoredTensor> tensors = WeightFiles.readStored(modelDir);
        for (Map.Entry<String, SafeTensors.StoredTensor> e : tensors.entrySet()) {
            String name = e.getKey();
            SafeTensors.StoredTensor t = e.getValue();
            if (name.endsWith("self_attn.q_proj.weight")) {
                t = GgufWriter.permuteForRope(t, config.numAttentionHeads());
            } else if (name.endsWith("self_attn.k_proj.weight")) {
                t = GgufWriter.permuteForRope(t, config.numKeyValueHeads());
            }
            // llama.cpp computes norms in F32 and its converter keeps every 1-D tensor in F32
            TensorType stored = t.shape().length == 1 ? TensorType.F32 : type;
            gguf.addTensor(ggufName(name), t, stored);
        }
        gguf.write(out);
    }

    /** general.file_type: llama_ftype ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32. */
    static int fileType(TensorType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 32;
        };
    }

    /**
     * The GGUF types {@code bench peers} writes for a checkpoint by default: its own 16-bit dtype (exact)
     * and F32, or only BF16 for a BF16 checkpoint (its F32 copy would be twice the size and its F16 copy
     * would round values F16 cannot hold).
     */
    static List<TensorType> defaultTypes(Path modelDir) throws IOException {
        JsonObject config = JsonParser.parseString(Files.readString(modelDir.resolve(LlamaConfig.FILE_NAME),
                StandardCharsets.UTF_8)).getAsJsonObject();
        for (String field : new String[] {"dtype", "torch_dtype"}) { // transformers 5, 4
            if (config.has(field) && config.get(field).isJsonPrimitive()
                    && "bfloat16".equals(config.get(field).getAsString())) {
                return List.of(TensorType.BF16);
            }
        }
        return List.of(TensorType.F16, TensorType.F32);
    }

    /** llama.cpp's tensor name for a Hugging Face Llama tensor; anything unknown is refused. */
    static String ggufName(String hfName) {
        switch (hfName) {
            case "model.embed_tokens.weight": return "token_embd.weight";
            case "model.norm.weight": return "output_norm.weight";
            case "lm_head.weight": return "output.weight";
            default: break;
        }
        Matcher m = LAYER.matcher(hfName);
        String part = m.matches() ? LAYER_NAMES.get(m.group(2)) : null;
        if (part == null) {
            throw new IllegalArgumentException("no GGUF name for tensor " + hfName);
        }
        return "blk." + m.group(1) + "." + part + ".weight";
    }

    /**
     * The byte-level BPE as llama.cpp's gpt2 tokenizer: the tokens in id order (the byte-level strings
     * themselves), their types (added special tokens are control tokens), the merges in rank order.
     */
    static void addTokenizer(GgufWriter gguf, Path file, LlamaConfig config) throws IOException {
        JsonObject json = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        JsonObject model = json.getAsJsonObject("model");
        if (model == null || !"BPE".equals(model.get("type").getAsString())) {
            throw new IllegalArgumentException(file + ": not a BPE tokenizer");
        }
        if (model.has("byte_fallback") && model.get("byte_fallback").getAsBoolean()) {
            addSentencePieceTokenizer(gguf, file, json, model, config);
            return;
        }
        String[] tokens = new String[config.vocabSize()];
        int[] types = new int[config.vocabSize()];
        for (Map.Entry<String, JsonElement> e : model.getAsJsonObject("vocab").entrySet()) {
            int id = e.getValue().getAsInt();
            if (id < 0 || id >= tokens.length) {
                throw new IllegalArgumentException(file + ": token id " + id + " outside the vocabulary of "
                        + tokens.length);
            }
            tokens[id] = e.getKey();
            types[id] = NORMAL;
        }
        JsonArray added = json.has("added_tokens") ? json.getAsJsonArray("added_tokens") : new JsonArray();
        for (JsonElement a : added) {
            JsonObject o = a.getAsJsonObject();
            int id = o.get("id").getAsInt();
            if (id < 0 || id >= tokens.length) {
                throw new IllegalArgumentException(file + ": added token id " + id + " outside the vocabulary");
            }
            tokens[id] = o.get("content").getAsString();
            types[id] = o.has("special") && o.get("special").getAsBoolean() ? CONTROL : USER_DEFINED;
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] == null) { // rows of the embedding no token uses, named as llama.cpp's converter does
                tokens[i] = "[PAD" + i + "]";
                types[i] = UNUSED;
            }
        }
        List<String> merges = new ArrayList<>();
        for (JsonElement m : model.getAsJsonArray("merges")) {
            if (m.isJsonArray()) { // newer tokenizers write each merge as a pair
                merges.add(m.getAsJsonArray().get(0).getAsString() + " " + m.getAsJsonArray().get(1).getAsString());
            } else {
                merges.add(m.getAsString());
            }
        }
        JsonObject pre = json.has("pre_tokenizer") && json.get("pre_tokenizer").isJsonObject()
                ? json.getAsJsonObject("pre_tokenizer") : null;
        boolean gpt2Regex = pre != null && "ByteLevel".equals(pre.get("type").getAsString())
                && (!pre.has("use_regex") || pre.get("use_regex").getAsBoolean());
        gguf.putString("tokenizer.ggml.model", "gpt2")
                .putString("tokenizer.ggml.pre", gpt2Regex ? "gpt-2" : "default")
                .putStrings("tokenizer.ggml.tokens", Arrays.asList(tokens))
                .putInt32s("tokenizer.ggml.token_type", types)
                .putStrings("tokenizer.ggml.merges", merges);
        if (config.bosTokenId() >= 0) {
            gguf.putUint32("tokenizer.ggml.bos_token_id", config.bosTokenId())
                    .putBool("tokenizer.ggml.add_bos_token", true);
        }
        if (config.eosTokenId() >= 0) {
            gguf.putUint32("tokenizer.ggml.eos_token_id", config.eosTokenId());
        }
        gguf.putBool("tokenizer.ggml.add_eos_token", false);
    }

    /**
     * A byte-fallback BPE converted from SentencePiece (Llama 2's) as llama.cpp's {@code llama} vocabulary:
     * tokens in id order with "▁" as written, {@code <0xNN>} tokens as BYTE, the unknown token UNKNOWN, added
     * special tokens CONTROL. llama.cpp's SentencePiece tokenizer merges the pair whose result scores
     * highest, so a token's score is minus the rank of the merge that makes it (0 for tokens no merge makes):
     * the same order as the BPE's merges. (bench peers hands both engines token ids, so this tokenizer never
     * decides what is compared.)
     */
    private static void addSentencePieceTokenizer(GgufWriter gguf, Path file, JsonObject json, JsonObject model,
            LlamaConfig config) {
        int n = config.vocabSize();
        String[] tokens = new String[n];
        int[] types = new int[n];
        float[] scores = new float[n];
        Map<String, Integer> ids = new HashMap<>();
        for (Map.Entry<String, JsonElement> e : model.getAsJsonObject("vocab").entrySet()) {
            int id = e.getValue().getAsInt();
            if (id < 0 || id >= n) {
                throw new IllegalArgumentException(file + ": token id " + id + " outside the vocabulary of " + n);
            }
            tokens[id] = e.getKey();
            ids.put(e.getKey(), id);
            types[id] = BYTE_TOKEN.matcher(e.getKey()).matches() ? BYTE : NORMAL;
        }
        JsonArray merges = model.getAsJsonArray("merges");
        for (int rank = 0; rank < merges.size(); rank++) {
            JsonElement m = merges.get(rank);
            String merged;
            if (m.isJsonArray()) {
                merged = m.getAsJsonArray().get(0).getAsString() + m.getAsJsonArray().get(1).getAsString();
            } else {
                String pair = m.getAsString();
                int space = pair.indexOf(' ');
                merged = pair.substring(0, space) + pair.substring(space + 1);
            }
            Integer id = ids.get(merged);
            if (id != null && scores[id] == 0) {
                scores[id] = -rank - 1;
            }
        }
        JsonArray added = json.has("added_tokens") ? json.getAsJsonArray("added_tokens") : new JsonArray();
        for (JsonElement a : added) {
            JsonObject o = a.getAsJsonObject();
            int id = o.get("id").getAsInt();
            if (id < 0 || id >= n) {
                throw new IllegalArgumentException(file + ": added token id " + id + " outside the vocabulary");
            }
            tokens[id] = o.get("content").getAsString();
            types[id] = o.has("special") && o.get("special").getAsBoolean() ? CONTROL : USER_DEFINED;
        }
        String unk = model.has("unk_token") && !model.get("unk_token").isJsonNull()
                ? model.get("unk_token").getAsString() : null;
        Integer unkId = unk != null ? ids.get(unk) : null;
        if (unkId != null) {
            types[unkId] = UNKNOWN;
        }
        for (int i = 0; i < n; i++) {
            if (tokens[i] == null) {
                tokens[i] = "[PAD" + i + "]";
                types[i] = UNUSED;
            }
        }
        gguf.putString("tokenizer.ggml.model", "llama")
                .putString("tokenizer.ggml.pre", "default")
                .putStrings("tokenizer.ggml.tokens", Arrays.asList(tokens))
                .putFloat32s("tokenizer.ggml.scores", scores)
                .putInt32s("tokenizer.ggml.token_type", types);
        if (config.bosTokenId() >= 0) {
            gguf.putUint32("tokenizer.ggml.bos_token_id", config.bosTokenId())
                    .putBool("tokenizer.ggml.add_bos_token", true);
        }
        if (config.eosTokenId() >= 0) {
            gguf.putUint32("tokenizer.ggml.eos_token_id", config.eosTokenId());
        }
        if (unkId != null) {
            gguf.putUint32("tokenizer.ggml.unknown_token_id", unkId);
        }
        gguf.putBool("tokenizer.ggml.add_eos_token", false);
    }
}
