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
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Converts a Hugging Face Llama checkpoint (config.json, model.safetensors, a byte-level BPE tokenizer.json)
 * into a GGUF file llama.cpp loads: its tensor names, q/k rows permuted for its RoPE, the tokenizer as
 * {@code gpt2} tokens, types and merges. F16 keeps the matrices in half precision and the norms in F32, as
 * llama.cpp's own converter does; F32 stores everything in F32.
 */
final class LlamaGguf {

    // llama.cpp's token types (llama_token_type)
    static final int NORMAL = 1;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int UNUSED = 5;

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
                .putUint32("general.file_type", type == TensorType.F32 ? 0 : 1) // ALL_F32, MOSTLY_F16
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
        Map<String, SafeTensors.Tensor> tensors = WeightFiles.read(modelDir);
        for (Map.Entry<String, SafeTensors.Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            SafeTensors.Tensor t = e.getValue();
            float[] values = t.values();
            if (name.endsWith("self_attn.q_proj.weight")) {
                values = GgufWriter.permuteForRope(values, (int) t.shape()[0], (int) t.shape()[1],
                        config.numAttentionHeads());
            } else if (name.endsWith("self_attn.k_proj.weight")) {
                values = GgufWriter.permuteForRope(values, (int) t.shape()[0], (int) t.shape()[1],
                        config.numKeyValueHeads());
            }
            // llama.cpp computes norms in F32 and its converter keeps every 1-D tensor in F32
            TensorType stored = t.shape().length == 1 ? TensorType.F32 : type;
            gguf.addTensor(ggufName(name), t.shape(), stored, values);
        }
        gguf.write(out);
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
}
