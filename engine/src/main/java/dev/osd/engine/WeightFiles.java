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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The weight files of a Hugging Face model directory as transformers publishes them: one
 * {@code model.safetensors}, or shards ({@code model-00001-of-00003.safetensors}, ...) listed by
 * {@code model.safetensors.index.json}, whose {@code weight_map} names the shard of every tensor.
 */
public final class WeightFiles {

    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private WeightFiles() {
    }

    /** Whether a directory holds weights in either layout. */
    public static boolean present(Path dir) {
        return Files.isRegularFile(dir.resolve(SINGLE_FILE)) || Files.isRegularFile(dir.resolve(INDEX_FILE));
    }

    /** The file a refusal of the directory's weights names: the single file or, when sharded, the index. */
    public static Path source(Path dir) {
        Path single = dir.resolve(SINGLE_FILE);
        return Files.isRegularFile(single) || !Files.isRegularFile(dir.resolve(INDEX_FILE)) ? single : dir.resolve(INDEX_FILE);
    }

    /**
     * Reads every tensor of the directory in its stored dtype, in checkpoint order. The single file wins
     * when both layouts are there (as in transformers). A missing shard, or a tensor the index names but
     * its shard lacks, is refused naming the shard and the tensor.
     */
    public static Map<String, SafeTensors.StoredTensor> readStored(Path dir) {
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return SafeTensors.readStored(single);
        }
        Path index = dir.resolve(INDEX_FILE);
        if (!Files.isRegularFile(index)) {
            throw new CheckpointException(single, null, "missing: a model directory needs " + SINGLE_FILE
                    + " or, for a sharded checkpoint, " + INDEX_FILE);
        }
        Map<String, Set<String>> byShard = shards(index);
        for (Map.Entry<String, Set<String>> e : byShard.entrySet()) {
            Path shard = dir.resolve(e.getKey());
            if (!Files.isRegularFile(shard)) {
                throw new CheckpointException(shard, e.getValue().iterator().next(), "missing shard: " + INDEX_FILE
                        + " places " + e.getValue().size() + " tensors in it");
            }
        }
        Map<String, SafeTensors.StoredTensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Set<String>> e : byShard.entrySet()) {
            Path shard = dir.resolve(e.getKey());
            tensors.putAll(SafeTensors.readStored(shard, e.getValue(), INDEX_FILE + " places it in this shard"));
        }
        return tensors;
    }

    /** Every tensor of the directory widened to float32, in checkpoint order. */
    public static Map<String, SafeTensors.Tensor> read(Path dir) {
        Map<String, SafeTensors.StoredTensor> stored = readStored(dir);
        Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>();
        for (String name : new ArrayList<>(stored.keySet())) {
            tensors.put(name, stored.remove(name).toTensor()); // drop each stored copy as it is widened
        }
        return tensors;
    }

    /** The index's weight_map grouped by shard file, in order of first appearance. */
    static Map<String, Set<String>> shards(Path index) {
        JsonObject json;
        try {
            json = JsonParser.parseString(Files.readString(index, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new CheckpointException(index, null, "cannot be read (" + e.getMessage() + ")", e);
        } catch (JsonParseException | IllegalStateException e) {
            throw new CheckpointException(index, null, "is not a JSON object (" + e.getMessage() + ")", e);
        }
        JsonElement map = json.get("weight_map");
        if (map == null || !map.isJsonObject()) {
            throw new CheckpointException(index, "weight_map", map == null ? "required field is missing"
                    : "must be an object from tensor name to shard file, was " + map);
        }
        Map<String, Set<String>> byShard = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : map.getAsJsonObject().entrySet()) {
            JsonElement v = e.getValue();
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                throw new CheckpointException(index, "weight_map." + e.getKey(), "must name a shard file, was " + v);
            }
            String shard = v.getAsString();
            Path p = Path.of(shard);
            if (p.isAbsolute() || p.getNameCount() != 1 || shard.equals("..") || !shard.endsWith(".safetensors")) {
                throw new CheckpointException(index, "weight_map." + e.getKey(), "'" + shard
                        + "' is not a .safetensors file beside the index");
            }
            byShard.computeIfAbsent(shard, s -> new LinkedHashSet<>()).add(e.getKey());
        }
        if (byShard.isEmpty()) {
            throw new CheckpointException(index, "weight_map", "names no tensor");
        }
        return byShard;
    }

    /**
     * Writes tensors in the order given, as transformers' {@code save_pretrained} does: one
     * {@code model.safetensors} when they fit in {@code maxShardBytes}, otherwise shards filled in order up
     * to that size (a larger tensor gets a shard of its own) and {@code model.safetensors.index.json}.
     * Each tensor's values are asked of the source only when its shard is written. Files of the other
     * layout left from an earlier write are removed, so the directory holds one checkpoint.
     *
     * @return the files written, index last
     */
    public static List<Path> write(Path dir, Map<String, long[]> shapes, SafeTensors.DType dtype,
            SafeTensors.TensorSource source, long maxShardBytes) throws IOException {
        List<Map<String, long[]>> shards = new ArrayList<>();
        Map<String, long[]> current = new LinkedHashMap<>();
        long currentBytes = 0;
        long total = 0;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long bytes = SafeTensors.bytes(e.getValue(), dtype);
            if (!current.isEmpty() && currentBytes + bytes > maxShardBytes) {
                shards.add(current);
                current = new LinkedHashMap<>();
                currentBytes = 0;
            }
            current.put(e.getKey(), e.getValue());
            currentBytes += bytes;
            total += bytes;
        }
        shards.add(current);
        Files.createDirectories(dir);
        List<Path> written = new ArrayList<>();
        if (shards.size() == 1) {
            Files.deleteIfExists(dir.resolve(INDEX_FILE));
            Path file = dir.resolve(SINGLE_FILE);
            SafeTensors.write(file, shapes, dtype, source);
            written.add(file);
            return written;
        }
        Files.deleteIfExists(dir.resolve(SINGLE_FILE));
        Map<String, String> weightMap = new TreeMap<>();
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            Path file = dir.resolve(name);
            SafeTensors.write(file, shards.get(i), dtype, source);
            shards.get(i).keySet().forEach(t -> weightMap.put(t, name));
            written.add(file);
        }
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("metadata", Map.of("total_size", total));
        index.put("weight_map", weightMap);
        Path indexFile = dir.resolve(INDEX_FILE);
        Files.writeString(indexFile, new GsonBuilder().setPrettyPrinting().create().toJson(index) + "\n",
                StandardCharsets.UTF_8);
        written.add(indexFile);
        return written;
    }
}
