package dev.osd.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.ndarray.types.SparseFormat;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A Llama-architecture causal language model: RMSNorm, rotary position embeddings, grouped-query attention
 * and a SwiGLU MLP.
 *
 * <p>Two forward passes share the weights. {@link #forward} is the serving path: n new tokens of several
 * sequences on top of their {@link KvCache}s in one call (prefill, decode, verification of k+1 proposals),
 * run by a {@link ServingForward} of the model's {@link ServingBackend}: the JDK Vector API forward on CPUs
 * ({@link CpuForward}), or fused PyTorch tensors for GPU targets ({@link DjlForward}). {@link #sequenceLogits}
 * is the plain, differentiable forward over whole sequences on the Hugging Face tensors, used for training
 * and as the reference the serving forwards are tested against. A model {@linkplain #load loaded} to serve on
 * the CPU holds its weights once, as stored, in the CPU forward; its DJL tensors exist only once asked for.
 */
public final class LlamaModel implements AutoCloseable {

    private final LlamaConfig config;
    private LlamaWeights weights; // null until first asked for when the model was loaded to serve on the CPU
    private final Supplier<LlamaWeights> weightsLoader; // reads them then; null when they came with the model
    private final NDManager manager;
    private float[] ropeCos; // (maxPos, headDim) in Hugging Face's layout, made when first needed
    private float[] ropeSin;
    private final ServingBackend backend;
    private final ServingForward serving;
    private boolean closed;

    private LlamaModel(LlamaWeights weights, ServingBackend backend) {
        this.weights = weights;
        this.weightsLoader = null;
        this.config = weights.config();
        this.backend = backend;
        this.manager = weights.manager().newSubManager();
        if (backend == ServingBackend.CPU) {
            serving = new CpuForward(weights);
        } else {
            makeRopeTables();
            serving = new DjlForward(weights, manager, ropeCos, ropeSin);
        }
    }

    /** A CPU-served model over a forward built from stored tensors; its DJL weights are read when asked for. */
    private LlamaModel(LlamaConfig config, CpuForward serving, NDManager manager, Supplier<LlamaWeights> loader) {
        this.config = config;
        this.weightsLoader = loader;
        this.backend = ServingBackend.CPU;
        this.manager = manager;
        this.serving = serving;
    }

    private synchronized void makeRopeTables() {
        if (ropeCos != null) {
            return;
        }
        LlamaConfig c = config;
        int hd = c.headDim();
        int maxPos = c.maxPositionEmbeddings();
        double[] inverse = c.ropeInverseFrequencies(); // float32 values as transformers computes them
        float[] invFreq = new float[hd / 2];
        for (int i = 0; i < hd / 2; i++) {
            invFreq[i] = (float) inverse[i];
        }
        float[] cos = new float[maxPos * hd];
        float[] sin = new float[maxPos * hd];
        for (int p = 0; p < maxPos; p++) {
            for (int j = 0; j < hd; j++) {
                float angle = (float) p * invFreq[j % (hd / 2)];
                cos[p * hd + j] = (float) Math.cos(angle);
                sin[p * hd + j] = (float) Math.sin(angle);
            }
        }
        ropeCos = cos;
        ropeSin = sin;
    }

    /**
     * A model over these weights, served by this JVM's backend (DJL when the weights live on a GPU); the model
     * owns them from now on and closes them with itself.
     */
    public static LlamaModel of(LlamaWeights weights) {
        // weights on a GPU are served where they are, by the DJL forward
        return of(weights, weights.manager().getDevice().isGpu() ? ServingBackend.DJL : ServingBackend.current());
    }

    /** A model over these weights whose serving forward runs on {@code backend}. */
    public static LlamaModel of(LlamaWeights weights, ServingBackend backend) {
        return new LlamaModel(weights, backend);
    }

    /**
     * Loads a Hugging Face model directory. Served on the CPU, the forward is built straight from the tensors
     * as stored (BF16 and F16 stay 16-bit, nothing is widened) and the DJL weights that training and
     * {@link #sequenceLogits} use are read from the directory only if {@link #weights} is ever called: a
     * target that only serves holds its weights once, in their stored size. On a GPU (or with the DJL backend)
     * the weights load as DJL tensors on {@code parent}'s device.
     */
    public static LlamaModel load(Path dir, NDManager parent) {
        if (parent.getDevice().isGpu() || ServingBackend.current() != ServingBackend.CPU) {
            return of(LlamaWeights.load(dir, parent));
        }
        LlamaConfig config = LlamaConfig.read(dir);
        Map<String, SafeTensors.StoredTensor> stored = WeightFiles.readStored(dir);
        if (config.tieWordEmbeddings()) {
            stored.remove("lm_head.weight"); // some tied checkpoints store the shared tensor twice
        }
        LlamaWeights.checkStored(config, stored, WeightFiles.source(dir));
        CpuForward forward = CpuForward.fromStored(config, stored);
        return new LlamaModel(config, forward, parent.newSubManager(), () -> LlamaWeights.load(dir, parent));
    }

    public LlamaConfig config() {
        return config;
    }

    /**
     * The weights as DJL tensors (training's and {@link #sequenceLogits}'s). A model loaded to serve on the
     * CPU reads them from its directory on the first call, in float32, and keeps them until closed.
     */
    public synchronized LlamaWeights weights() {
        if (weights == null) {
            if (closed) {
                throw new IllegalStateException("model is closed");
            }
            weights = weightsLoader.get();
        }
        return weights;
    }

    /** Whether the DJL weights exist now (false for a CPU-served model until {@link #weights} is called). */
    public synchronized boolean hasDjlWeights() {
        return weights != null;
    }

    /** Rows of the warm-up's verification-shaped forwards (a pending token and 5 proposals). */
    static final int WARM_UP_VERIFY_ROWS = 6;

    /**
     * Runs this model through the shapes serving runs, so that the JIT has compiled the forward's kernels
     * before anything is served or timed (a fresh JVM's first ~64 tokens run 1.7–2x slower than warm ones):
     * a prefill, single-token decodes, and verification-shaped forwards of {@value #WARM_UP_VERIFY_ROWS} rows
     * rolled back as a rejection would, on one cache of {@code pool} that is freed again.
     *
     * @return positions run (0 when disabled, or when the pool has no free slot or too few positions)
     */
    public int warmUp(KvCachePool pool, int tokens) {
        int prefill = Math.min(tokens, pool.positions() / 2);
        int decodes = Math.min(tokens, pool.positions() - prefill - WARM_UP_VERIFY_ROWS);
        if (prefill < 1 || decodes < 1 || pool.freeSlots() == 0) {
            return 0;
        }
        int vocab = config.vocabSize();
        int run = 0;
        try (KvCache cache = pool.acquire()) {
            int[] prompt = new int[prefill];
            for (int i = 0; i < prefill; i++) {
                prompt[i] = (1 + 7 * i) % vocab;
            }
            forward(cache, prompt, 1);
            run += prefill;
            int[] verify = new int[WARM_UP_VERIFY_ROWS];
            for (int i = 0; i < decodes; i++) {
                int token = (3 + 11 * i) % vocab;
                if (i % 8 == 7) {
                    // a verification of k + 1 rows, then the rollback of a rejection: back to one accepted token
                    int keep = cache.length();
                    for (int j = 0; j < WARM_UP_VERIFY_ROWS; j++) {
                        verify[j] = (token + j) % vocab;
                    }
                    forward(cache, verify, WARM_UP_VERIFY_ROWS);
                    cache.truncate(keep + 1);
                    run += WARM_UP_VERIFY_ROWS;
                } else {
                    forward(cache, new int[] {token}, 1);
                    run++;
                }
            }
            cache.truncate(0);
        }
        return run;
    }

    /** How the serving forward holds the weights: f32, f16 or bf16. */
    public String weightStorage() {
        return serving instanceof CpuForward cpu ? cpu.storage().name().toLowerCase(Locale.ROOT) : "f32";
    }

    /** Which forward serves this model. */
    public ServingBackend backend() {
        return backend;
    }

    NDManager manager() {
        return manager;
    }

    /** Cache memory for up to {@code slots} concurrent sequences of up to {@code positions} tokens. */
    public KvCachePool newCachePool(int slots, int positions) {
        return new KvCachePool(config, slots, positions, manager, backend);
    }

    /**
     * Cache memory of {@code budgetBytes} shared by up to {@code slots} sequences of up to {@code maxContext}
     * positions each, or as many as the budget holds ({@link KvCachePool#forBudget}).
     */
    public KvCachePool newCachePool(int slots, int maxContext, long budgetBytes) {
        return KvCachePool.forBudget(config, slots, maxContext, budgetBytes, manager, backend);
    }

    /** Cache memory for up to {@code slots} sequences of the model's full context. */
    public KvCachePool newCachePool(int slots) {
        return newCachePool(slots, config.maxPositionEmbeddings());
    }

    /**
     * Runs {@code tokens} on top of one cache, appends them to it and returns the logits of the last
     * {@code keepLast} new positions, each a vocabulary-sized row.
     */
    public float[][] forward(KvCache cache, int[] tokens, int keepLast) {
        return forward(List.of(cache), List.of(tokens), new int[] {keepLast}).get(0);
    }

    /** All new positions' logits. */
    public float[][] forward(KvCache cache, int[] tokens) {
        return forward(cache, tokens, tokens.length);
    }

    /**
     * One forward over several sequences of one cache pool, each with its own cache length and its own
     * number of new tokens. Equal, per sequence, to {@link #forward(KvCache, int[], int)}.
     */
    public List<float[][]> forward(List<KvCache> caches, List<int[]> tokens, int[] keepLast) {
        int batch = caches.size();
        if (batch == 0 || tokens.size() != batch || keepLast.length != batch) {
            throw new IllegalArgumentException("need one token array and one keepLast per cache");
        }
        KvCachePool pool = caches.get(0).pool();
        for (int b = 0; b < batch; b++) {
            KvCache cache = caches.get(b);
            cache.checkUsable();
            if (cache.pool() != pool) {
                throw new IllegalArgumentException("a batched forward needs caches of one pool");
            }
            if (cache.pool().backend() != backend) {
                throw new IllegalArgumentException("cache belongs to a pool of the " + cache.pool().backend()
                        + " forward, this model serves on " + backend);
            }
            if (!cache.pool().config().equals(config)) {
                throw new IllegalArgumentException("cache belongs to a model of another shape");
            }
            int n = tokens.get(b).length;
            if (n == 0) {
                throw new IllegalArgumentException("sequence " + b + " has no new tokens");
            }
            if (keepLast[b] < 1 || keepLast[b] > n) {
                throw new IllegalArgumentException("keepLast " + keepLast[b] + " outside [1, " + n + "]");
            }
            if (cache.length() + n > pool.positions()) {
                throw new IllegalArgumentException("sequence " + b + " of length " + cache.length() + " + " + n
                        + " new tokens exceeds the cache's " + pool.positions() + " positions");
            }
            for (int t : tokens.get(b)) {
                if (t < 0 || t >= config.vocabSize()) {
                    throw new IllegalArgumentException("token id " + t + " outside the vocabulary of "
                            + config.vocabSize());
                }
            }
        }
        for (int i = 0; i < batch; i++) {
            for (int j = i + 1; j < batch; j++) {
                if (caches.get(i) == caches.get(j)) {
                    throw new IllegalArgumentException("one cache appears twice in a batch");
                }
            }
        }
        List<float[][]> result = serving.run(caches, tokens, keepLast);
        for (int b = 0; b < batch; b++) {
            caches.get(b).advance(tokens.get(b).length);
        }
        return result;
    }

    /**
     * Logits for every position of whole sequences, (batch, length) token ids to (batch, length, vocab),
     * written as the plain Llama equations on the Hugging Face tensors so that autograd reaches them.
     * Results live in the manager of {@code tokens}.
     */
    public NDArray sequenceLogits(NDArray tokens) {
        return sequenceLogits(weights(), tokens);
    }

    /** The same forward on other weights of this shape (a trainer's working copy). */
    public NDArray sequenceLogits(LlamaWeights w, NDArray tokens) {
        LlamaConfig c = config;
        long batch = tokens.getShape().get(0);
        int length = (int) tokens.getShape().get(1);
        if (length > c.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("sequence of " + length + " exceeds max_position_embeddings "
                    + c.maxPositionEmbeddings());
        }
        NDManager scope = tokens.getManager();
        makeRopeTables();
        int hd = c.headDim();
        int heads = c.numAttentionHeads();
        int kvHeads = c.numKeyValueHeads();
        int group = c.queriesPerKeyValue();
        NDArray cos = scope.create(Arrays.copyOf(ropeCos, length * hd), new Shape(length, hd));
        NDArray sin = scope.create(Arrays.copyOf(ropeSin, length * hd), new Shape(length, hd));
        float[] causal = new float[length * length];
        for (int i = 0; i < length; i++) {
            for (int j = i + 1; j < length; j++) {
                causal[i * length + j] = Float.NEGATIVE_INFINITY;
            }
        }
        NDArray mask = scope.create(causal, new Shape(length, length));
        NDArray x = Embedding.embedding(tokens, w.get("model.embed_tokens.weight"), SparseFormat.DENSE).singletonOrThrow();
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String p = "model.layers." + l + ".";
            NDArray h = rmsNorm(x, w.get(p + "input_layernorm.weight"));
            NDArray q = project(h, w.get(p + "self_attn.q_proj.weight"))
                    .reshape(batch, length, heads, hd).transpose(0, 2, 1, 3); // (batch, heads, len, hd)
            NDArray k = project(h, w.get(p + "self_attn.k_proj.weight"))
                    .reshape(batch, length, kvHeads, hd).transpose(0, 2, 1, 3); // (batch, kv, len, hd)
            NDArray v = project(h, w.get(p + "self_attn.v_proj.weight"))
                    .reshape(batch, length, kvHeads, hd).transpose(0, 2, 1, 3);
            q = q.mul(cos).add(rotateHalf(q).mul(sin)).reshape(batch, kvHeads, group, length, hd);
            k = k.mul(cos).add(rotateHalf(k).mul(sin)).reshape(batch, kvHeads, 1, length, hd);
            v = v.reshape(batch, kvHeads, 1, length, hd);
            NDArray scores = q.matMul(k.transpose(0, 1, 2, 4, 3)).div(Math.sqrt(hd)).add(mask);
            NDArray attended = scores.softmax(-1).matMul(v) // (batch, kv, g, len, hd)
                    .reshape(batch, heads, length, hd).transpose(0, 2, 1, 3).reshape(batch, length, (long) heads * hd);
            x = x.add(project(attended, w.get(p + "self_attn.o_proj.weight")));
            h = rmsNorm(x, w.get(p + "post_attention_layernorm.weight"));
            NDArray gate = project(h, w.get(p + "mlp.gate_proj.weight"));
            NDArray up = project(h, w.get(p + "mlp.up_proj.weight"));
            x = x.add(project(gate.mul(Activation.sigmoid(gate)).mul(up), w.get(p + "mlp.down_proj.weight")));
        }
        x = rmsNorm(x, w.get("model.norm.weight"));
        return project(x, w.outputHead());
    }

    /** x W^T as torch.nn.functional.linear; the result lives with x. */
    private static NDArray project(NDArray x, NDArray weight) {
        return Linear.linear(x, weight).singletonOrThrow();
    }

    private NDArray rmsNorm(NDArray x, NDArray weight) {
        return x.mul(x.square().mean(new int[] {-1}, true).add(config.rmsNormEps()).sqrt().pow(-1)).mul(weight);
    }

    private static NDArray rotateHalf(NDArray x) {
        long half = x.getShape().get(x.getShape().dimension() - 1) / 2;
        NDArray first = x.get(new NDIndex("..., :{}", half));
        NDArray second = x.get(new NDIndex("..., {}:", half));
        return second.neg().concat(first, -1);
    }

    @Override
    public synchronized void close() {
        closed = true;
        manager.close();
        if (weights != null) {
            weights.close();
        }
    }
}
