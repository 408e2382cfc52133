package dev.osd.engine;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A checkpoint's {@code generation_config.json}: the tokens that end a generation and the sampling
 * defaults its authors chose. When the file is absent, transformers derives it from config.json's
 * {@code bos_token_id} and {@code eos_token_id}, and so does {@link #read}. A default the file does not set
 * is null: a server applies its own (the API's) default then.
 *
 * @param bosTokenId beginning-of-sequence token, or -1 when none is named
 * @param eosTokenIds every token that ends a generation ({@code eos_token_id} may be an int or a list), in
 *        file order; empty when none is named
 * @param padTokenId padding token, or -1
 * @param doSample whether the authors' default is sampling (false: greedy)
 * @param temperature default temperature, or null
 * @param topP default nucleus mass, or null
 * @param topK default top-k, or null
 * @param maxNewTokens default completion length, or null
 * @param maxLength default total length (prompt and completion), or null
 * @param repetitionPenalty default repetition penalty, or null (this engine does not apply one)
 */
public record GenerationConfig(
        int bosTokenId,
        List<Integer> eosTokenIds,
        int padTokenId,
        boolean doSample,
        Double temperature,
        Double topP,
        Integer topK,
        Integer maxNewTokens,
        Integer maxLength,
        Double repetitionPenalty) {

    public static final String FILE_NAME = "generation_config.json";

    public GenerationConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    /** Whether a token ends a generation. */
    public boolean isEos(int token) {
        return eosTokenIds.contains(token);
    }

    /**
     * The sampling this file sets as default, for a request that names none: greedy unless
     * {@code do_sample} is true, then its temperature, top-p and top-k (transformers' own defaults 1.0, 1.0
     * and 50 where the file is silent).
     */
    public SamplingParams defaultSampling(long seed) {
        if (!doSample) {
            return SamplingParams.GREEDY;
        }
        return new SamplingParams(temperature == null ? 1.0 : temperature, topK == null ? 50 : topK,
                topP == null ? 1.0 : topP, seed);
    }

    /**
     * Reads {@code dir/generation_config.json}, or derives one from the model's config.json when it is
     * absent. Every refused field is named with its file; token ids are checked against the vocabulary.
     */
    public static GenerationConfig read(Path dir, LlamaConfig model) {
        Path file = dir.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) {
            Path configFile = dir.resolve(LlamaConfig.FILE_NAME);
            JsonObject config = parse(configFile);
            Fields f = new Fields(config, configFile, model.vocabSize());
            return new GenerationConfig(f.tokenId("bos_token_id"), f.tokenIds("eos_token_id"),
                    f.tokenId("pad_token_id"), false, null, null, null, null, null, null);
        }
        Fields f = new Fields(parse(file), file, model.vocabSize());
        Double temperature = f.optDouble("temperature");
        if (temperature != null && temperature < 0) {
            throw new CheckpointException(file, "temperature", "must not be negative, was " + temperature);
        }
        Double topP = f.optDouble("top_p");
        if (topP != null && !(topP > 0 && topP <= 1)) {
            throw new CheckpointException(file, "top_p", "must be in (0, 1], was " + topP);
        }
        Integer topK = f.optInt("top_k");
        if (topK != null && topK < 0) {
            throw new CheckpointException(file, "top_k", "must not be negative, was " + topK);
        }
        Integer maxNewTokens = f.optInt("max_new_tokens");
        if (maxNewTokens != null && maxNewTokens <= 0) {
            throw new CheckpointException(file, "max_new_tokens", "must be positive, was " + maxNewTokens);
        }
        Integer maxLength = f.optInt("max_length");
        if (maxLength != null && maxLength <= 0) {
            throw new CheckpointException(file, "max_length", "must be positive, was " + maxLength);
        }
        Double repetitionPenalty = f.optDouble("repetition_penalty");
        if (repetitionPenalty != null && repetitionPenalty <= 0) {
            throw new CheckpointException(file, "repetition_penalty", "must be positive, was " + repetitionPenalty);
        }
        return new GenerationConfig(f.tokenId("bos_token_id"), f.tokenIds("eos_token_id"), f.tokenId("pad_token_id"),
                f.optBoolean("do_sample"), temperature, topP, topK, maxNewTokens, maxLength, repetitionPenalty);
    }

    /** Writes {@code dir/generation_config.json} as transformers saves one (set fields only, keys sorted). */
    public void write(Path dir) throws IOException {
        Map<String, Object> json = new TreeMap<>();
        json.put("_from_model_config", false);
        if (bosTokenId >= 0) {
            json.put("bos_token_id", bosTokenId);
        }
        if (eosTokenIds.size() == 1) {
            json.put("eos_token_id", eosTokenIds.get(0));
        } else if (!eosTokenIds.isEmpty()) {
            json.put("eos_token_id", eosTokenIds);
        }
        if (padTokenId >= 0) {
            json.put("pad_token_id", padTokenId);
        }
        if (doSample) {
            json.put("do_sample", true);
        }
        Map<String, Object> optional = new LinkedHashMap<>();
        optional.put("temperature", temperature);
        optional.put("top_p", topP);
        optional.put("top_k", topK);
        optional.put("max_new_tokens", maxNewTokens);
        optional.put("max_length", maxLength);
        optional.put("repetition_penalty", repetitionPenalty);
        optional.forEach((k, v) -> {
            if (v != null) {
                json.put(k, v);
            }
        });
        json.put("transformers_version", "4.46.3");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(FILE_NAME), new GsonBuilder().setPrettyPrinting().create().toJson(json) + "\n", StandardCharsets.UTF_8);
    }

    private static JsonObject parse(Path file) {
        try {
            return JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot be read (" + e.getMessage() + ")", e);
        } catch (JsonParseException | IllegalStateException e) {
            throw new CheckpointException(file, null, "is not a JSON object (" + e.getMessage() + ")", e);
        }
    }

    /** Typed fields of one file, each refusal naming the file and the field. */
    private record Fields(JsonObject json, Path file, int vocabSize) {
        private JsonElement present(String name) {
            JsonElement e = json.get(name);
            return e == null || e.isJsonNull() ? null : e;
        }

        int tokenId(String name) {
            JsonElement e = present(name);
            return e == null ? -1 : checkedId(name, e);
        }

        /** An int or a list of ints. */
        List<Integer> tokenIds(String name) {
            JsonElement e = present(name);
            List<Integer> ids = new ArrayList<>();
            if (e == null) {
                return ids;
            }
            if (e.isJsonArray()) {
                for (JsonElement id : e.getAsJsonArray()) {
                    int v = checkedId(name, id);
                    if (!ids.contains(v)) {
                        ids.add(v);
                    }
                }
            } else {
                ids.add(checkedId(name, e));
            }
            return ids;
        }

        private int checkedId(String name, JsonElement e) {
            if (!isNumber(e) || e.getAsDouble() != Math.rint(e.getAsDouble())) {
                throw new CheckpointException(file, name, "must be a token id or a list of token ids, was " + e);
            }
            double id = e.getAsDouble();
            if (id < 0 || id >= vocabSize) {
                throw new CheckpointException(file, name, e + " is outside the vocabulary of " + vocabSize);
            }
            return (int) id;
        }

        Double optDouble(String name) {
            JsonElement e = present(name);
            if (e == null) {
                return null;
            }
            if (!isNumber(e)) {
                throw new CheckpointException(file, name, "must be a number, was " + e);
            }
            return e.getAsDouble();
        }

        Integer optInt(String name) {
            Double d = optDouble(name);
            if (d == null) {
                return null;
            }
            if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
                throw new CheckpointException(file, name, "must be an integer, was " + json.get(name));
            }
            return d.intValue();
        }

        boolean optBoolean(String name) {
            JsonElement e = present(name);
            if (e == null) {
                return false;
            }
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
                throw new CheckpointException(file, name, "must be true or false, was " + e);
            }
            return e.getAsBoolean();
        }

        private static boolean isNumber(JsonElement e) {
            return e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber();
        }
    }
}
