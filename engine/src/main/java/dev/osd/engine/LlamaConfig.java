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
import java.util.Map;
import java.util.TreeMap;

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
 * @param eosTokenId end-of-sequence token, or -1 when the model has none (the first when config.json lists
 *        several; {@link GenerationConfig} has the whole list)
 * @param ropeScaling how the rotary frequencies are rescaled for long contexts, or null for none
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
        int eosTokenId,
        RopeScaling ropeScaling) {

    public static final String FILE_NAME = "config.json";
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeNulls().create();

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

    /** A builder with every optional field at its config.json default; the five shape fields are required. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this configuration's values, for "the same but" copies. */
    public Builder toBuilder() {
        return builder()
                .setHiddenSize(hiddenSize)
                .setIntermediateSize(intermediateSize)
                .setNumHiddenLayers(numHiddenLayers)
                .setNumAttentionHeads(numAttentionHeads)
                .setVocabSize(vocabSize)
                .optNumKeyValueHeads(numKeyValueHeads)
                .optRmsNormEps(rmsNormEps)
                .optRopeTheta(ropeTheta)
                .optMaxPositionEmbeddings(maxPositionEmbeddings)
                .optTieWordEmbeddings(tieWordEmbeddings)
                .optBosTokenId(bosTokenId)
                .optEosTokenId(eosTokenId)
                .optRopeScaling(ropeScaling);
    }

    /**
     * Builds a {@link LlamaConfig}: {@code setX} for the fields without a default, {@code optX} for the rest.
     * The defaults are the ones {@link #read} assumes when config.json leaves a field out.
     */
    public static final class Builder {
        private Integer hiddenSize;
        private Integer intermediateSize;
        private Integer numHiddenLayers;
        private Integer numAttentionHeads;
        private Integer vocabSize;
        // null: as many as numAttentionHeads (multi-head attention)
        private Integer numKeyValueHeads;
        private double rmsNormEps = 1e-5;
        private double ropeTheta = 10000.0;
        private int maxPositionEmbeddings = 2048;
        private boolean tieWordEmbeddings;
        private int bosTokenId = -1;
        private int eosTokenId = -1;
        private RopeScaling ropeScaling;

        private Builder() {
        }

        public Builder setHiddenSize(int hiddenSize) {
            this.hiddenSize = hiddenSize;
            return this;
        }

        public Builder setIntermediateSize(int intermediateSize) {
            this.intermediateSize = intermediateSize;
            return this;
        }

        public Builder setNumHiddenLayers(int numHiddenLayers) {
            this.numHiddenLayers = numHiddenLayers;
            return this;
        }

        public Builder setNumAttentionHeads(int numAttentionHeads) {
            this.numAttentionHeads = numAttentionHeads;
            return this;
        }

        public Builder setVocabSize(int vocabSize) {
            this.vocabSize = vocabSize;
            return this;
        }

        /** Key/value heads for grouped-query attention; without it, one per query head. */
        public Builder optNumKeyValueHeads(int numKeyValueHeads) {
            this.numKeyValueHeads = numKeyValueHeads;
            return this;
        }

        /** Default 1e-5. */
        public Builder optRmsNormEps(double rmsNormEps) {
            this.rmsNormEps = rmsNormEps;
            return this;
        }

        /** Default 10000. */
        public Builder optRopeTheta(double ropeTheta) {
            this.ropeTheta = ropeTheta;
            return this;
        }

        /** Default 2048. */
        public Builder optMaxPositionEmbeddings(int maxPositionEmbeddings) {
            this.maxPositionEmbeddings = maxPositionEmbeddings;
            return this;
        }

        /** Default false. */
        public Builder optTieWordEmbeddings(boolean tieWordEmbeddings) {
            this.tieWordEmbeddings = tieWordEmbeddings;
            return this;
        }

        /** Default -1 (none). */
        public Builder optBosTokenId(int bosTokenId) {
            this.bosTokenId = bosTokenId;
            return this;
        }

        /** Default -1 (none). */
        public Builder optEosTokenId(int eosTokenId) {
            this.eosTokenId = eosTokenId;
            return this;
        }

        /** Default null (no scaling). */
        public Builder optRopeScaling(RopeScaling ropeScaling) {
            this.ropeScaling = ropeScaling;
            return this;
        }

        /**
         * The configuration; a missing required field is refused with its config.json name, a value out
         * of range as the record refuses it.
         */
        public LlamaConfig build() {
            int heads = required(numAttentionHeads, "num_attention_heads");
            return new LlamaConfig(
                    required(hiddenSize, "hidden_size"),
                    required(intermediateSize, "intermediate_size"),
                    required(numHiddenLayers, "num_hidden_layers"),
                    heads,
                    numKeyValueHeads == null ? heads : numKeyValueHeads,
                    rmsNormEps,
                    ropeTheta,
                    required(vocabSize, "vocab_size"),
                    maxPositionEmbeddings,
                    tieWordEmbeddings,
                    bosTokenId,
                    eosTokenId,
                    ropeScaling);
        }

        private static int required(Integer value, String field) {
            if (value == null) {
                throw new InvalidField(field, "is required");
            }
            return value;
        }
    }

    /**
     * A rescaling of the rotary frequencies, as config.json's {@code rope_scaling} (transformers 4) or
     * {@code rope_parameters} (transformers 5) gives it.
     *
     * @param ropeType "linear" (every frequency divided by factor) or "llama3" (Llama 3.1's: long
     *        wavelengths divided by factor, short ones kept, a smooth blend between)
     * @param factor how much longer the context is than the one trained on
     * @param lowFreqFactor llama3: wavelengths above original / lowFreqFactor are divided by factor
     * @param highFreqFactor llama3: wavelengths below original / highFreqFactor are kept
     * @param originalMaxPositionEmbeddings llama3: the context length before scaling
     */
    public record RopeScaling(String ropeType, double factor, double lowFreqFactor, double highFreqFactor,
            int originalMaxPositionEmbeddings) {

        public static RopeScaling linear(double factor) {
            return new RopeScaling("linear", factor, 0, 0, 0);
        }

        public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor,
                int originalMaxPositionEmbeddings) {
            return new RopeScaling("llama3", factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings);
        }

        public RopeScaling {
            check(ropeType.equals("linear") || ropeType.equals("llama3"), "rope_scaling.rope_type",
                    "'" + ropeType + "' is not supported (default, linear or llama3)");
            check(factor >= 1, "rope_scaling.factor", "must be at least 1, was " + factor);
            if (ropeType.equals("llama3")) {
                check(lowFreqFactor > 0, "rope_scaling.low_freq_factor", "must be positive, was " + lowFreqFactor);
                check(highFreqFactor > lowFreqFactor, "rope_scaling.high_freq_factor", highFreqFactor
                        + " must be greater than low_freq_factor " + lowFreqFactor);
                check(originalMaxPositionEmbeddings > 0, "rope_scaling.original_max_position_embeddings",
                        "must be positive, was " + originalMaxPositionEmbeddings);
            }
        }
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

    /**
     * The rotary embedding's inverse frequencies, one per pair of a head's dimensions ({@code head_dim / 2}),
     * computed as transformers computes them: {@code 1 / theta^(2i / head_dim)} in float32, then rescaled
     * by {@link #ropeScaling()} when there is one. The angle of position p in pair i is
     * {@code p * inverseFrequency[i]}.
     */
    public double[] ropeInverseFrequencies() {
        int dim = headDim();
        float[] inv = new float[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            // transformers: 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)), all float32
            inv[i] = (float) (1.0 / (float) Math.pow(ropeTheta, (float) (2 * i) / dim));
        }
        if (ropeScaling != null) {
            float factor = (float) ropeScaling.factor();
            switch (ropeScaling.ropeType()) {
                case "linear" -> {
                    for (int i = 0; i < inv.length; i++) {
                        inv[i] = inv[i] / factor;
                    }
                }
                case "llama3" -> {
                    // transformers' _compute_llama3_parameters step by step in float32; a scalar divided by
                    // a tensor is PyTorch's reciprocal-then-multiply
                    float low = (float) ropeScaling.lowFreqFactor();
                    float original = ropeScaling.originalMaxPositionEmbeddings();
                    float lowFreqWavelen = (float) (ropeScaling.originalMaxPositionEmbeddings() / ropeScaling.lowFreqFactor());
                    float highFreqWavelen = (float) (ropeScaling.originalMaxPositionEmbeddings() / ropeScaling.highFreqFactor());
                    for (int i = 0; i < inv.length; i++) {
                        float wavelen = (1f / inv[i]) * (float) (2 * Math.PI);
                        if (wavelen > lowFreqWavelen) {
                            inv[i] = inv[i] / factor;
                        } else if (!(wavelen < highFreqWavelen)) {
                            float smooth = ((1f / wavelen) * original - low) / (float) (ropeScaling.highFreqFactor() - ropeScaling.lowFreqFactor());
                            inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
                        }
                    }
                }
                default -> throw new IllegalStateException(ropeScaling.ropeType());
            }
        }
        double[] out = new double[inv.length];
        for (int i = 0; i < inv.length; i++) {
            out[i] = inv[i];
        }
        return out;
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
        refuseUnsupported(f);
        double ropeTheta = ropeTheta(json, f, file);
        try {
            RopeScaling scaling = ropeScaling(json, file);
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
                    f.optInt("eos_token_id", -1),
                    scaling);
        } catch (InvalidField e) {
            throw new CheckpointException(file, e.field, e.problem, e);
        }
    }

    /** Fields whose values would make this engine compute something other than the model. */
    private static void refuseUnsupported(Fields f) {
        String act = f.optString("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new CheckpointException(f.file(), "hidden_act", "'" + act + "' is not supported (silu)");
        }
        for (String bias : new String[] {"attention_bias", "mlp_bias"}) {
            if (f.optBoolean(bias, false)) {
                throw new CheckpointException(f.file(), bias, "true is not supported: this engine's Llama has no biases");
            }
        }
        if (f.present("quantization_config") != null) {
            throw new CheckpointException(f.file(), "quantization_config",
                    "quantized checkpoints are not supported (float32, float16 or bfloat16 weights)");
        }
        // transformers 4 writes torch_dtype, transformers 5 dtype: the dtype the weights were saved in
        for (String field : new String[] {"dtype", "torch_dtype"}) {
            String dtype = f.optString(field, null);
            if (dtype != null) {
                try {
                    SafeTensors.DType.parse(dtype);
                } catch (IllegalArgumentException e) {
                    throw new CheckpointException(f.file(), field, e.getMessage());
                }
            }
        }
    }

    /**
     * transformers 4 writes {@code rope_theta} and {@code rope_scaling}; transformers 5 writes
     * {@code rope_parameters: {rope_theta, rope_type, ...}}.
     */
    private static double ropeTheta(JsonObject json, Fields f, Path file) {
        JsonObject parameters = ropeObject(json, file);
        if (parameters != null && parameters.has("rope_theta")) {
            return new Fields(parameters, file).optDouble("rope_theta", 10000.0);
        }
        return f.optDouble("rope_theta", 10000.0);
    }

    /** rope_parameters (transformers 5) or rope_scaling (transformers 4), whichever is there, or null. */
    private static JsonObject ropeObject(JsonObject json, Path file) {
        for (String field : new String[] {"rope_parameters", "rope_scaling"}) {
            JsonElement e = json.get(field);
            if (e == null || e.isJsonNull()) {
                continue;
            }
            if (!e.isJsonObject()) {
                throw new CheckpointException(file, field, "must be an object, was " + e);
            }
            return e.getAsJsonObject();
        }
        return null;
    }

    private static RopeScaling ropeScaling(JsonObject json, Path file) {
        JsonObject o = ropeObject(json, file);
        if (o == null) {
            return null;
        }
        String field = json.has("rope_parameters") && !json.get("rope_parameters").isJsonNull()
                ? "rope_parameters" : "rope_scaling";
        Fields nested = new Fields(o, file, field + ".");
        // transformers before 4.45 wrote "type"
        String type = nested.optString("rope_type", nested.optString("type", "default"));
        try {
            return switch (type) {
                case "default" -> null;
                case "linear" -> RopeScaling.linear(nested.requiredDouble("factor"));
                case "llama3" -> RopeScaling.llama3(nested.requiredDouble("factor"),
                        nested.requiredDouble("low_freq_factor"), nested.requiredDouble("high_freq_factor"),
                        nested.requiredInt("original_max_position_embeddings"));
                default -> throw new CheckpointException(file, field + ".rope_type", "'" + type
                        + "' is not supported (default, linear or llama3)");
            };
        } catch (InvalidField e) {
            throw new CheckpointException(file, e.field.replace("rope_scaling.", field + "."), e.problem, e);
        }
    }

    /** Writes {@code dir/config.json} in the Hugging Face shape, for float32 weights. */
    public void write(Path dir) throws IOException {
        write(dir, SafeTensors.DType.F32);
    }

    /**
     * Writes {@code dir/config.json} as transformers 4 saves a {@code LlamaConfig} (every field, keys
     * sorted, two-space indent), naming the dtype the weights are stored in.
     */
    public void write(Path dir, SafeTensors.DType dtype) throws IOException {
        Map<String, Object> json = new TreeMap<>();
        json.put("architectures", new String[] {"LlamaForCausalLM"});
        json.put("attention_bias", false);
        json.put("attention_dropout", 0.0);
        json.put("head_dim", headDim());
        json.put("hidden_act", "silu");
        json.put("hidden_size", hiddenSize);
        json.put("initializer_range", 0.02);
        json.put("intermediate_size", intermediateSize);
        json.put("max_position_embeddings", maxPositionEmbeddings);
        json.put("mlp_bias", false);
        json.put("model_type", "llama");
        json.put("num_attention_heads", numAttentionHeads);
        json.put("num_hidden_layers", numHiddenLayers);
        json.put("num_key_value_heads", numKeyValueHeads);
        json.put("pretraining_tp", 1);
        json.put("rms_norm_eps", rmsNormEps);
        if (ropeScaling != null) {
            Map<String, Object> scaling = new TreeMap<>();
            scaling.put("rope_type", ropeScaling.ropeType());
            scaling.put("factor", ropeScaling.factor());
            if (ropeScaling.ropeType().equals("llama3")) {
                scaling.put("low_freq_factor", ropeScaling.lowFreqFactor());
                scaling.put("high_freq_factor", ropeScaling.highFreqFactor());
                scaling.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
            }
            json.put("rope_scaling", scaling);
        } else {
            json.put("rope_scaling", null); // transformers writes the null
        }
        json.put("rope_theta", ropeTheta);
        json.put("tie_word_embeddings", tieWordEmbeddings);
        if (bosTokenId >= 0) {
            json.put("bos_token_id", bosTokenId);
        }
        if (eosTokenId >= 0) {
            json.put("eos_token_id", eosTokenId);
        }
        json.put("torch_dtype", switch (dtype) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
        });
        json.put("transformers_version", "4.46.3");
        json.put("use_cache", true);
        json.put("vocab_size", vocabSize);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(FILE_NAME), GSON.toJson(json) + "\n", StandardCharsets.UTF_8);
    }

    /** Reads typed fields, naming the field and the file in every refusal. */
    private record Fields(JsonObject json, Path file, String prefix) {
        Fields(JsonObject json, Path file) {
            this(json, file, "");
        }

        private JsonElement present(String name) {
            JsonElement e = json.get(name);
            return e == null || e.isJsonNull() ? null : e;
        }

        private JsonElement required(String name) {
            JsonElement e = present(name);
            if (e == null) {
                throw new CheckpointException(file, prefix + name, "required field is missing");
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
                throw new CheckpointException(file, prefix + name, "must be true or false, was " + e);
            }
            return e.getAsBoolean();
        }

        String optString(String name, String fallback) {
            JsonElement e = present(name);
            if (e != null && (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString())) {
                throw new CheckpointException(file, prefix + name, "must be a string, was " + e);
            }
            return e == null ? fallback : e.getAsString();
        }

        private int asInt(String name, JsonElement e) {
            double d = asDouble(name, e);
            if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
                throw new CheckpointException(file, prefix + name, "must be an integer, was " + e);
            }
            return (int) d;
        }

        private double asDouble(String name, JsonElement e) {
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
                throw new CheckpointException(file, prefix + name, "must be a number, was " + e);
            }
            return e.getAsDouble();
        }
    }
}
