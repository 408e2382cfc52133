package dev.osd.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The parameters of one Llama model version: named tensors exactly as Hugging Face checkpoints name them,
 * owned by one NDManager. Loading validates every tensor before any NDArray exists, so a refused checkpoint
 * leaves nothing behind. Treated as immutable once built: training makes a new instance.
 */
public final class LlamaWeights implements AutoCloseable {

    public static final String WEIGHTS_FILE = "model.safetensors";

    private final LlamaConfig config;
    private final NDManager manager;
    private final Map<String, NDArray> tensors;

    private LlamaWeights(LlamaConfig config, NDManager manager, Map<String, NDArray> tensors) {
        this.config = config;
        this.manager = manager;
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    public LlamaConfig config() {
        return config;
    }

    /** The tensor of a Hugging Face name, e.g. {@code model.layers.0.self_attn.q_proj.weight}. */
    public NDArray get(String name) {
        NDArray t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor " + name);
        }
        return t;
    }

    /** All tensors by name, in checkpoint order. */
    public Map<String, NDArray> tensors() {
        return tensors;
    }

    public NDManager manager() {
        return manager;
    }

    /** The expected shape of every tensor of a configuration, by Hugging Face name. */
    public static Map<String, long[]> expectedShapes(LlamaConfig c) {
        long h = c.hiddenSize();
        long q = (long) c.numAttentionHeads() * c.headDim();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long inter = c.intermediateSize();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("model.embed_tokens.weight", new long[] {c.vocabSize(), h});
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            shapes.put(p + "input_layernorm.weight", new long[] {h});
            shapes.put(p + "self_attn.q_proj.weight", new long[] {q, h});
            shapes.put(p + "self_attn.k_proj.weight", new long[] {kv, h});
            shapes.put(p + "self_attn.v_proj.weight", new long[] {kv, h});
            shapes.put(p + "self_attn.o_proj.weight", new long[] {h, q});
            shapes.put(p + "post_attention_layernorm.weight", new long[] {h});
            shapes.put(p + "mlp.gate_proj.weight", new long[] {inter, h});
            shapes.put(p + "mlp.up_proj.weight", new long[] {inter, h});
            shapes.put(p + "mlp.down_proj.weight", new long[] {h, inter});
        }
        shapes.put("model.norm.weight", new long[] {h});
        if (!c.tieWordEmbeddings()) {
            shapes.put("lm_head.weight", new long[] {c.vocabSize(), h});
        }
        return shapes;
    }

    /**
     * Loads a Hugging Face model directory ({@code config.json} and {@code model.safetensors}, or shards
     * listed by {@code model.safetensors.index.json}). Refuses a missing tensor or shard, a wrong shape, a
     * truncated file or an unknown dtype with the file and tensor named.
     */
    public static LlamaWeights load(Path dir, NDManager parent) {
        LlamaConfig config = LlamaConfig.read(dir);
        Path file = WeightFiles.source(dir);
        Map<String, SafeTensors.Tensor> host = WeightFiles.read(dir);
        if (config.tieWordEmbeddings()) {
            host.remove("lm_head.weight"); // some tied checkpoints store the shared tensor twice
        }
        return fromHost(config, host, file, parent);
    }

    /** Builds weights from host tensors after checking every name and shape against the configuration. */
    public static LlamaWeights fromHost(LlamaConfig config, Map<String, SafeTensors.Tensor> host, Path source,
            NDManager parent) {
        Map<String, long[]> expected = expectedShapes(config);
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            SafeTensors.Tensor t = host.get(e.getKey());
            checkShape(source, e.getKey(), t == null ? null : t.shape(), e.getValue());
            for (float v : t.values()) {
                if (!Float.isFinite(v)) {
                    throw new CheckpointException(source, e.getKey(), "holds a non-finite value " + v);
                }
            }
        }
        NDManager manager = parent.newSubManager();
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (String name : expected.keySet()) {
            SafeTensors.Tensor t = host.get(name);
            NDArray array = manager.create(t.values(), new Shape(t.shape()));
            array.setName(name);
            tensors.put(name, array);
        }
        return new LlamaWeights(config, manager, tensors);
    }

    /**
     * Checks tensors as stored (F32, F16 or BF16) against the configuration, as {@link #fromHost} does,
     * without widening them: every name and shape, and no infinite or NaN value.
     */
    static void checkStored(LlamaConfig config, Map<String, SafeTensors.StoredTensor> stored, Path source) {
        for (Map.Entry<String, long[]> e : expectedShapes(config).entrySet()) {
            SafeTensors.StoredTensor t = stored.get(e.getKey());
            checkShape(source, e.getKey(), t == null ? null : t.shape(), e.getValue());
            int n = t.size();
            for (int i = 0; i < n; i++) {
                boolean finite = switch (t.dtype()) {
                    case F32 -> Float.isFinite(t.floats()[i]);
                    case F16 -> (t.bits()[i] & 0x7c00) != 0x7c00; // exponent all ones: infinity or NaN
                    case BF16 -> (t.bits()[i] & 0x7f80) != 0x7f80;
                };
                if (!finite) {
                    throw new CheckpointException(source, e.getKey(), "holds a non-finite value " + t.get(i));
                }
            }
        }
    }

    private static void checkShape(Path source, String name, long[] shape, long[] expected) {
        if (shape == null) {
            throw new CheckpointException(source, name, "missing tensor");
        }
        if (!Arrays.equals(shape, expected)) {
            throw new CheckpointException(source, name, "wrong shape " + Arrays.toString(shape)
                    + ", the configuration needs " + Arrays.toString(expected));
        }
    }

    /**
     * Random weights in the usual initialisation: linear and embedding tensors normal(0, std), norm
     * weights one. Deterministic by seed (drawn in Java, so independent of the native RNG).
     */
    public static LlamaWeights random(LlamaConfig config, long seed, double std, NDManager parent) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, SafeTensors.Tensor> host = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : expectedShapes(config).entrySet()) {
            long n = 1;
            for (long d : e.getValue()) {
                n *= d;
            }
            float[] values = new float[Math.toIntExact(n)];
            if (e.getKey().endsWith("norm.weight")) {
                Arrays.fill(values, 1f);
            } else {
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) (gaussian(random) * std);
                }
            }
            host.put(e.getKey(), new SafeTensors.Tensor(e.getValue(), values));
        }
        return fromHost(config, host, Path.of("<random seed " + seed + ">"), parent);
    }

    private static double gaussian(SplittableRandom random) {
        double u1 = random.nextDouble();
        double u2 = random.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** Every tensor copied to the host, by name. */
    public Map<String, SafeTensors.Tensor> toHost() {
        Map<String, SafeTensors.Tensor> host = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            host.put(e.getKey(), new SafeTensors.Tensor(e.getValue().getShape().getShape(),
                    e.getValue().toFloatArray()));
        }
        return host;
    }

    /** Host copy of one tensor. */
    public float[] hostValues(String name) {
        return get(name).toFloatArray();
    }

    /**
     * Saves {@code config.json} and {@code model.safetensors} into a directory, the weights file written
     * atomically. A tokenizer is copied by the caller (drafts share the target's).
     */
    public void save(Path dir, SafeTensors.DType dtype) throws IOException {
        Files.createDirectories(dir);
        config.write(dir);
        SafeTensors.write(dir.resolve(WEIGHTS_FILE), toHost(), dtype);
    }

    /** A deep copy in a new manager (a trainer's working copy, or a new version to publish). */
    public LlamaWeights copy(NDManager parent) {
        NDManager m = parent.newSubManager();
        Map<String, NDArray> copies = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray c = e.getValue().duplicate();
            c.attach(m);
            c.setName(e.getKey());
            copies.put(e.getKey(), c);
        }
        return new LlamaWeights(config, m, copies);
    }

    /** The output head (lm_head, or the embedding when tied). */
    public NDArray outputHead() {
        return config.tieWordEmbeddings() ? get("model.embed_tokens.weight") : get("lm_head.weight");
    }

    @Override
    public void close() {
        manager.close();
    }
}
