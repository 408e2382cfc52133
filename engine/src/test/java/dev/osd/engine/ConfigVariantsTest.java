package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The config.json variants transformers 4 and 5 write, Llama 3 rope scaling, and what is refused. */
class ConfigVariantsTest {

    @TempDir
    Path dir;

    /** Llama-3.2-1B's config.json as transformers 4.45 saved it (rope_scaling with rope_type llama3). */
    private static final String LLAMA_32_1B = """
            {
              "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
              "bos_token_id": 128000, "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu",
              "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 8192,
              "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
              "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8, "pretraining_tp": 1,
              "rms_norm_eps": 1e-05,
              "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                               "original_max_position_embeddings": 8192, "rope_type": "llama3"},
              "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
              "transformers_version": "4.45.0.dev0", "use_cache": true, "vocab_size": 128256
            }""";

    private static JsonObject json(String text) {
        return JsonParser.parseString(text).getAsJsonObject();
    }

    private LlamaConfig parse(JsonObject json) {
        return LlamaConfig.fromJson(json, dir.resolve("config.json"));
    }

    private CheckpointException refused(JsonObject json) {
        return assertThrows(CheckpointException.class, () -> parse(json));
    }

    @Test
    void builderDefaultsAreTheOnesParsingAssumesForAbsentFields() {
        LlamaConfig parsed = LlamaConfig.fromJson(json("""
                {"hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "vocab_size": 257, "rms_norm_eps": 1e-5, "max_position_embeddings": 2048}"""), dir);
        LlamaConfig built = LlamaConfig.builder().setHiddenSize(64).setIntermediateSize(160).setNumHiddenLayers(2)
                .setNumAttentionHeads(4).setVocabSize(257).build();
        assertEquals(parsed, built);
        assertEquals(4, built.numKeyValueHeads());
        assertEquals(-1, built.bosTokenId());
        assertEquals(-1, built.eosTokenId());
        assertNull(built.ropeScaling());
    }

    @Test
    void builderRefusesAMissingRequiredFieldByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.builder()
                .setHiddenSize(64).setIntermediateSize(160).setNumHiddenLayers(2).setNumAttentionHeads(4).build());
        assertEquals("vocab_size is required", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.builder().setVocabSize(8).build());
        assertTrue(e.getMessage().startsWith("num_attention_heads"), e.getMessage());
    }

    @Test
    void toBuilderCopiesEveryField() {
        LlamaConfig c = LlamaConfig.fromJson(json(LLAMA_32_1B), dir);
        assertEquals(c, c.toBuilder().build());
        LlamaConfig fewer = c.toBuilder().setNumHiddenLayers(3).build();
        assertEquals(3, fewer.numHiddenLayers());
        assertEquals(c.ropeScaling(), fewer.ropeScaling());
        assertEquals(c.eosTokenId(), fewer.eosTokenId());
    }

    @Test
    void llama3RopeScalingIsParsedAndItsFrequenciesAreTransformers() {
        LlamaConfig c = parse(json(LLAMA_32_1B));
        assertEquals(LlamaConfig.RopeScaling.llama3(32, 1, 4, 8192), c.ropeScaling());
        assertEquals(500000.0, c.ropeTheta());
        assertEquals(64, c.headDim());
        assertEquals(128001, c.eosTokenId());
        double[] inv = c.ropeInverseFrequencies();
        assertEquals(32, inv.length);
        // transformers' _compute_llama3_parameters in float32 (numpy, as PyTorch computes it)
        double[][] expected = {{0, 1.0}, {14, 0.0032114461064338684}, {15, 0.0012905480107292533},
            {16, 0.000429556705057621}, {17, 9.708286233944818e-05}, {18, 1.9461638657958247e-05},
            {31, 9.41830720080361e-08}};
        for (double[] e : expected) {
            int i = (int) e[0];
            assertEquals(e[1], inv[i], Math.abs(e[1]) * 2e-7, "inverse frequency " + i);
        }
        // short wavelengths are kept exactly, long ones divided by the factor exactly
        LlamaConfig plain = c.toBuilder().optRopeScaling(null).build();
        double[] unscaled = plain.ropeInverseFrequencies();
        assertEquals(unscaled[3], inv[3]);
        assertEquals((float) (unscaled[31] / 32), (float) inv[31]);
    }

    @Test
    void defaultFrequenciesAreTheForwardsOwn() {
        LlamaConfig c = TinyModels.targetConfig();
        double[] inv = c.ropeInverseFrequencies();
        int hd = c.headDim();
        for (int i = 0; i < hd / 2; i++) {
            // the expression CpuForward and LlamaModel use today
            assertEquals((float) (1.0 / (float) Math.pow(c.ropeTheta(), (float) (2 * i) / hd)), (float) inv[i]);
        }
    }

    @Test
    void transformers5RopeParametersAndDtype() {
        JsonObject j = json(LLAMA_32_1B);
        JsonObject params = j.remove("rope_scaling").getAsJsonObject();
        params.addProperty("rope_theta", 250000.0);
        j.remove("rope_theta");
        j.add("rope_parameters", params);
        j.remove("torch_dtype");
        j.addProperty("dtype", "bfloat16");
        LlamaConfig c = parse(j);
        assertEquals(250000.0, c.ropeTheta());
        assertEquals("llama3", c.ropeScaling().ropeType());

        JsonObject plain = json(LLAMA_32_1B);
        plain.remove("rope_scaling");
        plain.add("rope_parameters", json("{\"rope_type\": \"default\", \"rope_theta\": 10000.0}"));
        assertNull(parse(plain).ropeScaling());
        assertEquals(10000.0, parse(plain).ropeTheta());

        JsonObject older = json(LLAMA_32_1B);
        older.add("rope_scaling", json("{\"type\": \"linear\", \"factor\": 4.0}"));
        LlamaConfig linear = parse(older);
        assertEquals(LlamaConfig.RopeScaling.linear(4), linear.ropeScaling());
        assertEquals((float) (1.0 / 4), (float) linear.ropeInverseFrequencies()[0]);
    }

    @Test
    void refusalsNameTheFileAndTheField() {
        JsonObject yarn = json(LLAMA_32_1B);
        yarn.getAsJsonObject("rope_scaling").addProperty("rope_type", "yarn");
        CheckpointException e = refused(yarn);
        assertEquals("rope_scaling.rope_type", e.item());
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("'yarn'"), e.getMessage());

        JsonObject noFactor = json(LLAMA_32_1B);
        noFactor.getAsJsonObject("rope_scaling").remove("factor");
        assertEquals("rope_scaling.factor", refused(noFactor).item());

        JsonObject v5 = json(LLAMA_32_1B);
        JsonObject params = v5.remove("rope_scaling").getAsJsonObject();
        params.remove("low_freq_factor");
        v5.add("rope_parameters", params);
        assertEquals("rope_parameters.low_freq_factor", refused(v5).item());

        JsonObject inverted = json(LLAMA_32_1B);
        inverted.getAsJsonObject("rope_scaling").addProperty("high_freq_factor", 0.5);
        assertEquals("rope_scaling.high_freq_factor", refused(inverted).item());

        JsonObject int8 = json(LLAMA_32_1B);
        int8.addProperty("torch_dtype", "int8");
        assertEquals("torch_dtype", refused(int8).item());

        JsonObject bias = json(LLAMA_32_1B);
        bias.addProperty("attention_bias", true);
        assertEquals("attention_bias", refused(bias).item());

        JsonObject gelu = json(LLAMA_32_1B);
        gelu.addProperty("hidden_act", "gelu");
        assertEquals("hidden_act", refused(gelu).item());

        JsonObject quantized = json(LLAMA_32_1B);
        quantized.add("quantization_config", json("{\"quant_method\": \"gptq\"}"));
        assertEquals("quantization_config", refused(quantized).item());

        JsonObject headDim = json(LLAMA_32_1B);
        headDim.addProperty("head_dim", 128);
        assertEquals("head_dim", refused(headDim).item());
    }

    @Test
    void writtenConfigIsTransformersShapeAndReadsBack() throws IOException {
        LlamaConfig c = parse(json(LLAMA_32_1B));
        c.write(dir, SafeTensors.DType.BF16);
        JsonObject written = json(Files.readString(dir.resolve("config.json")));
        assertEquals("bfloat16", written.get("torch_dtype").getAsString());
        assertEquals(64, written.get("head_dim").getAsInt());
        assertEquals("llama3", written.getAsJsonObject("rope_scaling").get("rope_type").getAsString());
        assertEquals(c, LlamaConfig.read(dir));

        LlamaConfig plain = TinyModels.targetConfig();
        plain.write(dir);
        assertTrue(json(Files.readString(dir.resolve("config.json"))).get("rope_scaling").isJsonNull());
        assertEquals(plain, LlamaConfig.read(dir));
        assertArrayEquals(plain.ropeInverseFrequencies(), LlamaConfig.read(dir).ropeInverseFrequencies());
    }
}
