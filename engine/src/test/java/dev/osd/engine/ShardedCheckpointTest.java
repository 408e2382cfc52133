package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedCheckpointTest {

    @TempDir
    Path dir;

    /** Writes the tiny target as transformers would with a small max_shard_size. */
    private List<Path> writeSharded(Path into, long maxShardBytes) throws IOException {
        LlamaModel model = TinyModels.target();
        Map<String, SafeTensors.Tensor> host = model.weights().toHost();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        host.forEach((name, t) -> shapes.put(name, t.shape()));
        model.config().write(into);
        return WeightFiles.write(into, shapes, SafeTensors.DType.F32, (name, shape) -> host.get(name).values(),
                maxShardBytes);
    }

    @Test
    void shardedCheckpointLoadsWithIdenticalLogits() throws IOException {
        List<Path> files = writeSharded(dir, 64 * 1024);
        assertTrue(files.size() > 3, "several shards and an index: " + files);
        assertEquals(WeightFiles.INDEX_FILE, files.get(files.size() - 1).getFileName().toString());
        assertEquals(String.format("model-00001-of-%05d.safetensors", files.size() - 1), files.get(0).getFileName().toString());
        assertFalse(Files.exists(dir.resolve(WeightFiles.SINGLE_FILE)));
        JsonObject index = JsonParser.parseString(Files.readString(dir.resolve(WeightFiles.INDEX_FILE))).getAsJsonObject();
        long tensorBytes = TinyModels.targetConfig().parameterCount() * 4;
        assertEquals(tensorBytes, index.getAsJsonObject("metadata").get("total_size").getAsLong());
        try (LlamaModel loaded = LlamaModel.load(dir, TinyModels.manager())) {
            int[] tokens = {1, 5, 9, 200, 33};
            assertArrayEquals(CacheConsistencyTest.reference(TinyModels.target(), tokens)[4],
                    CacheConsistencyTest.reference(loaded, tokens)[4]);
        }
    }

    @Test
    void aMissingShardIsRefusedNamingTheShardAndATensor() throws IOException {
        List<Path> files = writeSharded(dir, 64 * 1024);
        Path second = files.get(1);
        Files.delete(second);
        CheckpointException e = assertThrows(CheckpointException.class, () -> WeightFiles.read(dir));
        assertEquals(second, e.file());
        assertTrue(e.item().startsWith("model."), e.getMessage());
        assertTrue(e.getMessage().contains("missing shard"), e.getMessage());
        assertTrue(e.getMessage().contains(WeightFiles.INDEX_FILE), e.getMessage());
    }

    @Test
    void aTensorTheIndexNamesButItsShardLacksIsRefused() throws IOException {
        List<Path> files = writeSharded(dir, 64 * 1024);
        Path index = dir.resolve(WeightFiles.INDEX_FILE);
        JsonObject json = JsonParser.parseString(Files.readString(index)).getAsJsonObject();
        String shard = files.get(0).getFileName().toString();
        json.getAsJsonObject("weight_map").addProperty("model.layers.0.self_attn.rotary_emb.inv_freq", shard);
        Files.writeString(index, json.toString(), StandardCharsets.UTF_8);
        CheckpointException e = assertThrows(CheckpointException.class, () -> WeightFiles.read(dir));
        assertEquals(files.get(0), e.file());
        assertEquals("model.layers.0.self_attn.rotary_emb.inv_freq", e.item());
        assertTrue(e.getMessage().contains("places it in this shard"), e.getMessage());
    }

    @Test
    void aMalformedIndexIsRefusedNamingTheField() throws IOException {
        Files.writeString(dir.resolve(WeightFiles.INDEX_FILE), "{\"metadata\": {}}");
        CheckpointException e = assertThrows(CheckpointException.class, () -> WeightFiles.read(dir));
        assertEquals("weight_map", e.item());
        Files.writeString(dir.resolve(WeightFiles.INDEX_FILE), "{\"weight_map\": {\"a\": \"../elsewhere.safetensors\"}}");
        e = assertThrows(CheckpointException.class, () -> WeightFiles.read(dir));
        assertEquals("weight_map.a", e.item());
    }

    @Test
    void aDirectoryWithoutWeightsNamesBothLayouts() {
        CheckpointException e = assertThrows(CheckpointException.class, () -> WeightFiles.read(dir));
        assertTrue(e.getMessage().contains(WeightFiles.SINGLE_FILE) && e.getMessage().contains(WeightFiles.INDEX_FILE),
                e.getMessage());
    }

    @Test
    void oneShardWhenEverythingFits() throws IOException {
        List<Path> files = writeSharded(dir, 1L << 30);
        assertEquals(List.of(dir.resolve(WeightFiles.SINGLE_FILE)), files);
        assertFalse(Files.exists(dir.resolve(WeightFiles.INDEX_FILE)));
    }

    @Test
    void storedReadKeepsBfloat16BitsAndStreamedWriteAsksOncePerTensorInOrder() throws IOException {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("b", new long[] {3, 2});
        shapes.put("a", new long[] {4});
        List<String> asked = new ArrayList<>();
        Path file = dir.resolve("t.safetensors");
        SafeTensors.write(file, shapes, SafeTensors.DType.BF16, (name, shape) -> {
            asked.add(name);
            float[] v = new float[(int) SafeTensors.bytes(shape, SafeTensors.DType.F32) / 4];
            for (int i = 0; i < v.length; i++) {
                v[i] = (name.equals("a") ? 1 : -1) * (1f / 3 + i);
            }
            return v;
        });
        assertEquals(List.of("a", "b"), asked, "in file (name) order, each once");
        Map<String, SafeTensors.StoredTensor> stored = SafeTensors.readStored(file);
        SafeTensors.StoredTensor b = stored.get("b");
        assertEquals(SafeTensors.DType.BF16, b.dtype());
        assertNull(b.floats());
        assertArrayEquals(new long[] {3, 2}, b.shape());
        for (int i = 0; i < 6; i++) {
            assertEquals(SafeTensors.toBfloat16(-(1f / 3 + i)), b.bits()[i]);
            assertEquals(Float.intBitsToFloat((b.bits()[i] & 0xffff) << 16), b.values()[i]);
        }
        assertArrayEquals(SafeTensors.read(file).get("a").values(), stored.get("a").values());
        assertEquals(Set.of("a"), SafeTensors.readStored(file, Set.of("a")).keySet());
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> SafeTensors.readStored(file, Set.of("c")));
        assertEquals("c", e.item());
    }

    @Test
    void aSourceGivingTheWrongSizeLeavesNoFile() {
        Path file = dir.resolve("bad.safetensors");
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(file, Map.of("x", new long[] {4}),
                SafeTensors.DType.F16, (name, shape) -> new float[3]));
        assertFalse(Files.exists(file));
        assertFalse(Files.exists(dir.resolve("bad.safetensors.tmp")));
    }
}
