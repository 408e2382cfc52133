package dev.osd.engine;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shape of a Llama-architecture model, as a Hugging Face {@code config.json} gives it.
 *
 * @param hiddenSize width of the residual stream
 * @param intermediateSize width of the SwiGLU MLP
 * @param numHiddenLayers decoder layers
 * @param numAttentionHeads query heads
 * @param numKeyValueHeads key/value heads (grouped-query attention); divides numAttentionHeads
 * @param rmsNormEps epsilon inside RMSNorm's square root
 * @param ropeTheta base of the rotary position embedding
 * @param vocabSize rows of the embedding and of the output head
 * @param maxPositionEmbeddings longest sequence the model is meant for; caches are sized by it
 * @param tieWordEmbeddings whether lm_head shares model.embed_tokens (no lm_head.weight tensor)
 * @param bosTokenId beginning-of-sequence token, or -1 when the model has none
 * @param eosTokenId end-of-sequence token, or -1 when the model has none
 */
public record LlamaConfig(
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        double rmsNormEps,
        double ropeTheta,
        int vocabSize,
        int maxPositionEmbeddings,
        boolean tieWordEmbeddings,
        int bosTokenId,
        int eosTokenId) {

    public static final String FILE_NAME = "config.json";
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

    public LlamaConfig {
        check(hiddenSize > 0, "hidden_size", "must be positive, was " + hiddenSize);
        check(intermediateSize > 0, "intermediate_size", "must be positive, was " + intermediateSize);
        check(numHiddenLayers > 0, "num_hidden_layers", "must be positive, was " + numHiddenLayers);
        check(numAttentionHeads > 0 && hiddenSize % numAttentionHeads == 0, "num_attention_heads",
                numAttentionHeads + " does not divide hidden_size " + hiddenSize);
        check(numKeyValueHeads > 0 && numAttentionHeads % numKeyValueHeads == 0, "num_key_value_heads",
                numKeyValueHeads + " does not divide num_attention_heads " + numAttentionHeads);
        check((hiddenSize / numAttentionHeads) % 2 == 0, "hidden_size", "head dimension " + hiddenSize / numAttentionHeads + " must be even for rotary embeddings");
        check(rmsNormEps > 0, "rms_norm_eps", "must be positive, was " + rmsNormEps);
        check(ropeTheta > 0, "rope_theta", "must be positive, was " + ropeTheta);
        check(vocabSize > 0, "vocab_size", "must be positive, was " + vocabSize);
        check(maxPositionEmbeddings > 0, "max_position_embeddings", "must be positive, was " + maxPositionEmbeddings);
        check(bosTokenId < vocabSize, "bos_token_id", bosTokenId + " is outside the vocabulary of " + vocabSize);
        check(eosTokenId < vocabSize, "eos_token_id", eosTokenId + " is outside the vocabulary of " + vocabSize);
    }

    private static void check(boolean ok, String field, String problem) {
        if (!ok) {
            throw new InvalidField(field, problem);
        }
    }

    /** A configuration value out of range, with the Hugging Face name of its field. */
    static final class InvalidField extends IllegalArgumentException {
        final String field;
        final String problem;

        InvalidField(String field, String problem) {
            super(field + " " + problem);
            this.field = field;
            this.problem = problem;
        }
    }

    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** Query heads that share one key/value head. */
    public int queriesPerKeyValue() {
        return numAttentionHeads / numKeyValueHeads;
    }

    /** Parameters in the checkpoint (tied embeddings counted once). */
    public long parameterCount() {
        long h = hiddenSize;
        long kv = (long) numKeyValueHeads * headDim();
        long perLayer = h * h * 2 + h * kv * 2 + 3L * h * intermediateSize + 2 * h;
        long embed = (long) vocabSize * h;
        return embed + (tieWordEmbeddings ? 0 : embed) + perLayer * numHiddenLayers + h;
    }

    /** Reads {@code dir/config.json}; a missing or malformed field is refused with its name. */
    public static LlamaConfig read(Path dir) {
        Path file = dir.resolve(FILE_NAME);
        JsonObject json;
        try {
            json = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot be read (" + e.getMessage() + ")", e);
        } catch (JsonParseException | IllegalStateException e) {
            throw new CheckpointException(file, null, "is not a JSON object (" + e.getMessage() + ")", e);
        }
        return fromJson(json, file);
    }

    static LlamaConfig fromJson(JsonObject json, Path file) {
        Fields f = new Fields(json, file);
        String type = f.optString("model_type", "llama");
        if (!type.equals("llama") && !type.equals("mistral")) {
            throw new CheckpointException(file, "model_type", "'" + type + "' is not a Llama-architecture model");
        }
        int heads = f.requiredInt("num_attention_heads");
        int hidden = f.requiredInt("hidden_size");
        int headDim = f.optInt("head_dim", hidden / Math.max(heads, 1));
        if (headDim * heads != hidden) {
            throw new CheckpointException(file, "head_dim", headDim + " × " + heads
                    + " heads differs from hidden_size " + hidden + ", which this engine does not support");
        }
        double ropeTheta = ropeTheta(json, f, file);
        try {
            return new LlamaConfig(
                    hidden,
                    f.requiredInt("intermediate_size"),
                    f.requiredInt("num_hidden_layers"),
                    heads,
                    f.optInt("num_key_value_heads", heads),
                    f.requiredDouble("rms_norm_eps"),
                    ropeTheta,
                    f.requiredInt("vocab_size"),
                    f.requiredInt("max_position_embeddings"),
                    f.optBoolean("tie_word_embeddings", false),
                    f.optInt("bos_token_id", -1),
                    f.optInt("eos_token_id", -1));
        } catch (InvalidField e) {
            throw new CheckpointException(file, e.field, e.problem, e);
        }
    }

    /**
     * transformers 4 writes {@code rope_theta} and {@code rope_scaling}; transformers 5 writes
     * {@code rope_parameters: {rope_theta, rope_type}}. Only the plain ("default") rotary embedding is supported.
     */
    private static double ropeTheta(JsonObject json, Fields f, Path file) {
        for (String field : new String[] {"rope_parameters", "rope_scaling"}) {
            JsonElement e = json.get(field);
            if (e == null || e.isJsonNull()) {
                continue;
            }
            if (!e.isJsonObject()) {
                throw new CheckpointException(file, field, "must be an object, was " + e);
            }
            Fields nested = new Fields(e.getAsJsonObject(), file);
            String type = nested.optString("rope_type", nested.optString("type", "default"));
            if (!type.equals("default")) {
                throw new CheckpointException(file, field, "rope_type '" + type
                        + "' is not supported (only the default rotary embedding)");
            }
            if (e.getAsJsonObject().has("rope_theta")) {
                return nested.optDouble("rope_theta", 10000.0);
            }
        }
        return f.optDouble("rope_theta", 10000.0);
    }

    /** Writes {@code dir/config.json} in the Hugging Face shape. */
    public void write(Path dir) throws IOException {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("architectures", new String[] {"LlamaForCausalLM"});
        json.put("model_type", "llama");
        json.put("hidden_size", hiddenSize);
        json.put("intermediate_size", intermediateSize);
        json.put("num_hidden_layers", numHiddenLayers);
        json.put("num_attention_heads", numAttentionHeads);
        json.put("num_key_value_heads", numKeyValueHeads);
        json.put("hidden_act", "silu");
        json.put("rms_norm_eps", rmsNormEps);
        json.put("rope_theta", ropeTheta);
        json.put("vocab_size", vocabSize);
        json.put("max_position_embeddings", maxPositionEmbeddings);
        json.put("tie_word_embeddings", tieWordEmbeddings);
        if (bosTokenId >= 0) {
            json.put("bos_token_id", bosTokenId);
        }
        if (eosTokenId >= 0) {
            json.put("eos_token_id", eosTokenId);
        }
        json.put("torch_dtype", "float32");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(FILE_NAME), GSON.toJson(json), StandardCharsets.UTF_8);
    }

    /** Reads typed fields, naming the field and the file in every refusal. */
    private record Fields(JsonObject json, Path file) {
        private JsonElement present(String name) {
            JsonElement e = json.get(name);
            return e == null || e.isJsonNull() ? null : e;
        }

        private JsonElement required(String name) {
            JsonElement e = present(name);
            if (e == null) {
                throw new CheckpointException(file, name, "required field is missing");
            }
            return e;
        }

        int requiredInt(String name) {
            return asInt(name, required(name));
        }

        int optInt(String name, int fallback) {
            JsonElement e = present(name);
            if (e != null && e.isJsonArray()) {
                // some checkpoints list several eos ids; the first is the canonical one
                e = e.getAsJsonArray().isEmpty() ? null : e.getAsJsonArray().get(0);
            }
            return e == null ? fallback : asInt(name, e);
        }

        double requiredDouble(String name) {
            return asDouble(name, required(name));
        }

        double optDouble(String name, double fallback) {
            JsonElement e = present(name);
            return e == null ? fallback : asDouble(name, e);
        }

        boolean optBoolean(String name, boolean fallback) {
            JsonElement e = present(name);
            if (e == null) {
                return fallback;
            }
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
                throw new CheckpointException(file, name, "must be true or false, was " + e);
            }
            return e.getAsBoolean();
        }

        String optString(String name, String fallback) {
            JsonElement e = present(name);
            return e == null ? fallback : e.getAsString();
        }

        private int asInt(String name, JsonElement e) {
            double d = asDouble(name, e);
            if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
                throw new CheckpointException(file, name, "must be an integer, was " + e);
            }
            return (int) d;
        }

        private double asDouble(String name, JsonElement e) {
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
                throw new CheckpointException(file, name, "must be a number, was " + e);
            }
            return e.getAsDouble();
        }
    }
}
