package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {

    @TempDir
    Path dir;

    private static float[] logitsOf(LlamaModel model) {
        return CacheConsistencyTest.reference(model, new int[] {1, 5, 9, 200, 33})[4];
    }

    @Test
    void float32RoundTripGivesIdenticalLogits() throws IOException {
        LlamaModel original = TinyModels.target();
        original.weights().save(dir, SafeTensors.DType.F32);
        try (LlamaModel loaded = LlamaModel.load(dir, TinyModels.manager())) {
            assertEquals(original.config(), loaded.config());
            assertArrayEquals(logitsOf(original), logitsOf(loaded));
        }
    }

    @Test
    void halfPrecisionRoundTripsAreStable() throws IOException {
        for (SafeTensors.DType dtype : new SafeTensors.DType[] {SafeTensors.DType.F16, SafeTensors.DType.BF16}) {
            Path first = dir.resolve(dtype.name() + "-1");
            Path second = dir.resolve(dtype.name() + "-2");
            TinyModels.draft().weights().save(first, dtype);
            try (LlamaModel once = LlamaModel.load(first, TinyModels.manager())) {
                once.weights().save(second, dtype);
                try (LlamaModel twice = LlamaModel.load(second, TinyModels.manager())) {
                    // a value already representable in the dtype survives exactly
                    assertArrayEquals(logitsOf(once), logitsOf(twice), dtype.name());
                    double d = CacheConsistencyTest.maxDiff(logitsOf(TinyModels.draft()), logitsOf(once));
                    assertTrue(d < (dtype == SafeTensors.DType.F16 ? 0.02 : 0.2), dtype + " drift " + d);
                }
            }
            assertEquals(dtype.name(), headerOf(first.resolve(LlamaWeights.WEIGHTS_FILE))
                    .getAsJsonObject("model.norm.weight").get("dtype").getAsString());
        }
    }

    @Test
    void halfConversionsMatchIeee() {
        assertEquals(1.0f, SafeTensors.halfToFloat((short) 0x3c00));
        assertEquals(-2.0f, SafeTensors.halfToFloat((short) 0xc000));
        assertEquals(65504f, SafeTensors.halfToFloat((short) 0x7bff));
        assertEquals(0x1p-24f, SafeTensors.halfToFloat((short) 0x0001));
        assertEquals((short) 0x3c00, SafeTensors.floatToHalf(1.0f));
        assertEquals((short) 0x7c00, SafeTensors.floatToHalf(1e6f));
        assertEquals((short) 0x3555, SafeTensors.floatToHalf(1f / 3));
        assertEquals((short) 0x0001, SafeTensors.floatToHalf(0x1p-24f));
        for (int bits = 0; bits < 0x7c00; bits += 7) {
            assertEquals((short) bits, SafeTensors.floatToHalf(SafeTensors.halfToFloat((short) bits)));
        }
        assertEquals((short) 0x3f80, SafeTensors.toBfloat16(1.0f));
    }

    private static JsonObject headerOf(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return JsonParser.parseString(new String(bytes, 8, (int) n, StandardCharsets.UTF_8)).getAsJsonObject();
    }

    private Path savedDraft(String name) throws IOException {
        Path d = dir.resolve(name);
        TinyModels.draft().weights().save(d, SafeTensors.DType.F32);
        return d;
    }

    private static CheckpointException refused(Path d) {
        return assertThrows(CheckpointException.class, () -> LlamaModel.load(d, TinyModels.manager()));
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path d = savedDraft("missing");
        Map<String, SafeTensors.Tensor> host = SafeTensors.read(d.resolve(LlamaWeights.WEIGHTS_FILE));
        host.remove("model.layers.0.mlp.up_proj.weight");
        SafeTensors.write(d.resolve(LlamaWeights.WEIGHTS_FILE), host, SafeTensors.DType.F32);
        CheckpointException e = refused(d);
        assertEquals("model.layers.0.mlp.up_proj.weight", e.item());
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("missing tensor"),
                e.getMessage());
    }

    @Test
    void wrongShapeIsNamed() throws IOException {
        Path d = savedDraft("shape");
        Map<String, SafeTensors.Tensor> host = SafeTensors.read(d.resolve(LlamaWeights.WEIGHTS_FILE));
        host.put("model.layers.0.self_attn.k_proj.weight", new SafeTensors.Tensor(new long[] {16, 32}, new float[512]));
        SafeTensors.write(d.resolve(LlamaWeights.WEIGHTS_FILE), host, SafeTensors.DType.F32);
        CheckpointException e = refused(d);
        assertEquals("model.layers.0.self_attn.k_proj.weight", e.item());
        assertTrue(e.getMessage().contains("[16, 32]") && e.getMessage().contains("[32, 32]"), e.getMessage());
    }

    @Test
    void truncatedFileNamesTheTensorThatRanOut() throws IOException {
        Path d = savedDraft("truncated");
        Path file = d.resolve(LlamaWeights.WEIGHTS_FILE);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(raf.length() - 100);
        }
        CheckpointException e = refused(d);
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        assertTrue(e.item() != null && e.item().startsWith("model."), "names a tensor: " + e.getMessage());
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(5);
        }
        assertTrue(refused(d).getMessage().contains("truncated"));
    }

    @Test
    void unknownDtypeIsNamed() throws IOException {
        Path d = savedDraft("dtype");
        Path file = d.resolve(LlamaWeights.WEIGHTS_FILE);
        byte[] bytes = Files.readAllBytes(file);
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        int at = text.indexOf("\"model.norm.weight\":{\"dtype\":\"F32\"");
        assertTrue(at > 0);
        text = text.substring(0, at) + "\"model.norm.weight\":{\"dtype\":\"I8 \"" + text.substring(at + 34);
        Files.write(file, text.getBytes(StandardCharsets.ISO_8859_1));
        CheckpointException e = refused(d);
        assertEquals("model.norm.weight", e.item());
        assertTrue(e.getMessage().contains("unknown dtype"), e.getMessage());
    }

    @Test
    void configWithoutARequiredFieldIsNamed() throws IOException {
        Path d = savedDraft("config");
        Path config = d.resolve(LlamaConfig.FILE_NAME);
        JsonObject json = JsonParser.parseString(Files.readString(config)).getAsJsonObject();
        json.remove("intermediate_size");
        Files.writeString(config, json.toString());
        CheckpointException e = refused(d);
        assertEquals("intermediate_size", e.item());
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        json.addProperty("intermediate_size", "wide");
        Files.writeString(config, json.toString());
        assertEquals("intermediate_size", refused(d).item());
        json.addProperty("intermediate_size", 64);
        json.addProperty("num_key_value_heads", 3);
        Files.writeString(config, json.toString());
        assertEquals("num_key_value_heads", refused(d).item());
        json.addProperty("num_key_value_heads", 2);
        JsonObject rope = new JsonObject();
        rope.addProperty("rope_type", "llama3");
        json.add("rope_parameters", rope);
        Files.writeString(config, json.toString());
        assertEquals("rope_parameters.factor", refused(d).item(), "llama3 scaling needs its factors");
        json.remove("rope_parameters");
        json.addProperty("head_dim", 8);
        Files.writeString(config, json.toString());
        assertEquals("head_dim", refused(d).item());
    }

    @Test
    void nonFiniteWeightsAreRefused() throws IOException {
        Path d = savedDraft("nan");
        Map<String, SafeTensors.Tensor> host = SafeTensors.read(d.resolve(LlamaWeights.WEIGHTS_FILE));
        host.get("model.norm.weight").values()[3] = Float.NaN;
        SafeTensors.write(d.resolve(LlamaWeights.WEIGHTS_FILE), host, SafeTensors.DType.F32);
        assertEquals("model.norm.weight", refused(d).item());
    }

    @Test
    void missingWeightsFileIsNamed() throws IOException {
        Path d = savedDraft("nofile");
        Files.delete(d.resolve(LlamaWeights.WEIGHTS_FILE));
        assertTrue(refused(d).getMessage().contains("model.safetensors"));
    }
}
