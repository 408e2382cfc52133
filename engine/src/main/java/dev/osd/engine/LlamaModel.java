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

/**
 * A Llama-architecture causal language model on DJL: RMSNorm, rotary position embeddings, grouped-query
 * attention and a SwiGLU MLP.
 *
 * <p>Two forward passes share one set of weights. {@link #forward} is the serving path: n new tokens of
 * several sequences on top of their {@link KvCache}s in one call (prefill, decode, verification of k+1
 * proposals). It runs on derived, fused tensors, because each DJL op costs a JNI round trip that dominates a
 * small draft: per layer one projection yields q, k, v and their rotated halves (RMSNorm's weight, the
 * attention scale and rotate_half are folded into it), rotary embedding is one multiply and one sum, one
 * projection yields gate and up. {@link #sequenceLogits} is the plain, differentiable forward over whole
 * sequences on the Hugging Face tensors, used for training and as the reference the fused path is tested
 * against.
 */
public final class LlamaModel implements AutoCloseable {

    private final LlamaConfig config;
    private final LlamaWeights weights;
    private final NDManager manager;
    private final int qCols;
    private final int kvCols;
    private final int fusedCols;
    private final float[] ropeCos; // (maxPos, headDim) in Hugging Face's layout
    private final float[] ropeSin;
    private final NDArray embedding; // (vocab, hidden)
    private final NDArray[] qkvRotary; // (2, hidden, q+k+v): plain and rotate_half'ed projections
    private final NDArray[] outputProjection; // (heads*headDim, hidden)
    private final NDArray[] gateUp; // (2, hidden, intermediate)
    private final NDArray[] downProjection; // (intermediate, hidden)
    private final NDArray head; // (hidden, vocab)
    private final NDArray rotaryTable; // (2, maxPos, q+k+v): cos and sin, ones and zeros for v

    private LlamaModel(LlamaWeights weights) {
        this.weights = weights;
        this.config = weights.config();
        this.manager = weights.manager().newSubManager();
        LlamaConfig c = config;
        int h = c.hiddenSize();
        int hd = c.headDim();
        qCols = c.numAttentionHeads() * hd;
        kvCols = c.numKeyValueHeads() * hd;
        fusedCols = qCols + 2 * kvCols;
        int layers = c.numHiddenLayers();
        int maxPos = c.maxPositionEmbeddings();

        float[] invFreq = new float[hd / 2];
        for (int i = 0; i < hd / 2; i++) {
            // float32 arithmetic as in transformers' LlamaRotaryEmbedding, so angles match its rounding
            invFreq[i] = (float) (1.0 / (float) Math.pow(c.ropeTheta(), (float) (2 * i) / hd));
        }
        ropeCos = new float[maxPos * hd];
        ropeSin = new float[maxPos * hd];
        for (int p = 0; p < maxPos; p++) {
            for (int j = 0; j < hd; j++) {
                float angle = (float) p * invFreq[j % (hd / 2)];
                ropeCos[p * hd + j] = (float) Math.cos(angle);
                ropeSin[p * hd + j] = (float) Math.sin(angle);
            }
        }
        float[] table = new float[2 * maxPos * fusedCols];
        int sinBase = maxPos * fusedCols;
        for (int p = 0; p < maxPos; p++) {
            for (int col = 0; col < fusedCols; col++) {
                boolean rotated = col < qCols + kvCols;
                int j = col % hd;
                table[p * fusedCols + col] = rotated ? ropeCos[p * hd + j] : 1f;
                table[sinBase + p * fusedCols + col] = rotated ? ropeSin[p * hd + j] : 0f;
            }
        }
        rotaryTable = manager.create(table, new Shape(2, maxPos, fusedCols));

        embedding = weights.get("model.embed_tokens.weight");
        qkvRotary = new NDArray[layers];
        outputProjection = new NDArray[layers];
        gateUp = new NDArray[layers];
        downProjection = new NDArray[layers];
        float scale = (float) (1.0 / Math.sqrt(hd));
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            float[] inNorm = weights.hostValues(p + "input_layernorm.weight");
            float[] wq = weights.hostValues(p + "self_attn.q_proj.weight");
            float[] wk = weights.hostValues(p + "self_attn.k_proj.weight");
            float[] wv = weights.hostValues(p + "self_attn.v_proj.weight");
            float[] fused = new float[2 * h * fusedCols];
            int rotBase = h * fusedCols;
            for (int i = 0; i < h; i++) {
                int row = i * fusedCols;
                for (int o = 0; o < fusedCols; o++) {
                    float w;
                    if (o < qCols) {
                        w = wq[o * h + i] * scale;
                    } else if (o < qCols + kvCols) {
                        w = wk[(o - qCols) * h + i];
                    } else {
                        w = wv[(o - qCols - kvCols) * h + i];
                    }
                    fused[row + o] = w * inNorm[i];
                }
                // rotate_half per head: first half takes -x[j + hd/2], second half x[j - hd/2]
                for (int o = 0; o < qCols + kvCols; o++) {
                    int j = o % hd;
                    int source = j < hd / 2 ? o + hd / 2 : o - hd / 2;
                    float sign = j < hd / 2 ? -1f : 1f;
                    fused[rotBase + row + o] = sign * fused[row + source];
                }
            }
            qkvRotary[l] = manager.create(fused, new Shape(2, h, fusedCols));
            outputProjection[l] = transposed(weights.hostValues(p + "self_attn.o_proj.weight"), h, qCols, null);

            float[] postNorm = weights.hostValues(p + "post_attention_layernorm.weight");
            int inter = c.intermediateSize();
            float[] gate = weights.hostValues(p + "mlp.gate_proj.weight");
            float[] up = weights.hostValues(p + "mlp.up_proj.weight");
            float[] gu = new float[2 * h * inter];
            for (int i = 0; i < h; i++) {
                for (int o = 0; o < inter; o++) {
                    gu[i * inter + o] = gate[o * h + i] * postNorm[i];
                    gu[h * inter + i * inter + o] = up[o * h + i] * postNorm[i];
                }
            }
            gateUp[l] = manager.create(gu, new Shape(2, h, inter));
            downProjection[l] = transposed(weights.hostValues(p + "mlp.down_proj.weight"), h, inter, null);
        }
        head = transposed(weights.outputHead().toFloatArray(), c.vocabSize(), h,
                weights.hostValues("model.norm.weight"));
    }

    /** (rows, cols) row-major to a (cols, rows) NDArray, each output row i scaled by rowScale[i]. */
    private NDArray transposed(float[] w, int rows, int cols, float[] rowScale) {
        float[] t = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int col = 0; col < cols; col++) {
                t[col * rows + r] = w[r * cols + col] * (rowScale == null ? 1f : rowScale[col]);
            }
        }
        return manager.create(t, new Shape(cols, rows));
    }

    /** A model over these weights; the model owns them from now on and closes them with itself. */
    public static LlamaModel of(LlamaWeights weights) {
        return new LlamaModel(weights);
    }

    /** Loads a Hugging Face model directory. */
    public static LlamaModel load(Path dir, NDManager parent) {
        return of(LlamaWeights.load(dir, parent));
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaWeights weights() {
        return weights;
    }

    NDManager manager() {
        return manager;
    }

    /** Cache memory for up to {@code slots} concurrent sequences of up to {@code positions} tokens. */
    public KvCachePool newCachePool(int slots, int positions) {
        return new KvCachePool(config, slots, positions, manager);
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
        int maxNew = 0;
        int span = 0;
        for (int b = 0; b < batch; b++) {
            KvCache cache = caches.get(b);
            cache.checkUsable();
            if (cache.pool() != pool) {
                throw new IllegalArgumentException("a batched forward needs caches of one pool");
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
            maxNew = Math.max(maxNew, n);
            span = Math.max(span, cache.length() + n);
        }
        for (int i = 0; i < batch; i++) {
            for (int j = i + 1; j < batch; j++) {
                if (caches.get(i) == caches.get(j)) {
                    throw new IllegalArgumentException("one cache appears twice in a batch");
                }
            }
        }
        List<float[][]> result = run(pool, caches, tokens, keepLast, batch, maxNew, span);
        for (int b = 0; b < batch; b++) {
            caches.get(b).advance(tokens.get(b).length);
        }
        return result;
    }

    private List<float[][]> run(KvCachePool pool, List<KvCache> caches, List<int[]> tokens, int[] keepLast,
            int batch, int maxNew, int span) {
        LlamaConfig c = config;
        int rows = batch * maxNew;
        int kvHeads = c.numKeyValueHeads();
        int group = c.queriesPerKeyValue();
        int hd = c.headDim();
        long[] ids = new long[rows];
        long[] positions = new long[rows];
        long[] slotOfRow = new long[rows];
        long[] writeAt = new long[rows];
        long[] slots = new long[batch];
        int kept = 0;
        for (int b = 0; b < batch; b++) {
            kept += keepLast[b];
        }
        long[] keptRows = new long[kept];
        int k = 0;
        for (int b = 0; b < batch; b++) {
            int length = caches.get(b).length();
            int[] t = tokens.get(b);
            slots[b] = caches.get(b).slot();
            for (int i = 0; i < maxNew; i++) {
                int r = b * maxNew + i;
                slotOfRow[r] = slots[b];
                if (i < t.length) {
                    ids[r] = t[i];
                    positions[r] = length + i;
                    writeAt[r] = length + i;
                } else {
                    writeAt[r] = pool.scratchPosition();
                }
            }
            for (int i = t.length - keepLast[b]; i < t.length; i++) {
                keptRows[k++] = (long) b * maxNew + i;
            }
        }
        boolean single = batch == 1;
        try (NDManager scope = manager.newSubManager()) {
            NDArray idArray = scope.create(ids);
            NDArray x = Embedding.embedding(idArray, embedding, SparseFormat.DENSE).singletonOrThrow(); // (rows, hidden)
            NDArray rotary = own(rotaryTable.get(new NDIndex(":, {}", scope.create(positions))), scope);
            NDIndex write = new NDIndex("{}, {}", scope.create(slotOfRow), scope.create(writeAt));
            NDIndex read = single
                    ? new NDIndex("{}:{}, :{}", slots[0], slots[0] + 1, span)
                    : new NDIndex("{}, :{}", scope.create(slots), span);
            NDArray mask = single && maxNew == 1 ? null : attentionMask(scope, caches, tokens, maxNew, span, group);
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                NDArray h = rmsNorm(x);
                NDArray qkv = h.matMul(qkvRotary[l]).mul(rotary).sum(new int[] {0}); // (rows, q+k+v)
                NDList parts = qkv.split(new long[] {qCols, qCols + kvCols}, 1);
                pool.keys[l].set(write, parts.get(1));
                pool.values[l].set(write, parts.get(2));
                NDArray keys = own(pool.keys[l].get(read), scope) // (batch, span, kv*hd)
                        .reshape(batch, span, kvHeads, hd).transpose(0, 2, 3, 1); // (batch, kv, hd, span)
                NDArray values = own(pool.values[l].get(read), scope)
                        .reshape(batch, span, kvHeads, hd).transpose(0, 2, 1, 3); // (batch, kv, span, hd)
                NDArray q = maxNew == 1
                        ? parts.get(0).reshape(batch, kvHeads, group, hd)
                        : parts.get(0).reshape(batch, maxNew, kvHeads, group, hd).transpose(0, 2, 3, 1, 4)
                                .reshape(batch, kvHeads, (long) group * maxNew, hd); // (batch, kv, g*n, hd)
                NDArray scores = q.matMul(keys); // (batch, kv, g*n, span), already scaled by 1/sqrt(hd)
                if (mask != null) {
                    scores = scores.add(mask);
                }
                NDArray attended = scores.softmax(-1).matMul(values); // (batch, kv, g*n, hd)
                NDArray merged = maxNew == 1
                        ? attended.reshape(rows, qCols)
                        : attended.reshape(batch, kvHeads, group, maxNew, hd).transpose(0, 3, 1, 2, 4)
                                .reshape(rows, qCols);
                x = x.add(merged.matMul(outputProjection[l]));
                NDArray gu = rmsNorm(x).matMul(gateUp[l]); // (2, rows, intermediate)
                NDArray gate = gu.get(0);
                NDArray act = gate.mul(Activation.sigmoid(gate)).mul(gu.get(1));
                x = x.add(act.matMul(downProjection[l]));
            }
            if (kept != rows) {
                x = x.get(new NDIndex("{}", scope.create(keptRows)));
            }
            float[] logits = rmsNorm(x).matMul(head).toFloatArray(); // (kept, vocab)
            List<float[][]> out = new ArrayList<>(batch);
            int vocab = c.vocabSize();
            int row = 0;
            for (int b = 0; b < batch; b++) {
                float[][] seq = new float[keepLast[b]][];
                for (int i = 0; i < keepLast[b]; i++, row++) {
                    seq[i] = Arrays.copyOfRange(logits, row * vocab, (row + 1) * vocab);
                }
                out.add(seq);
            }
            return out;
        }
    }

    /** (batch, 1, group*maxNew, span): row i of sequence b sees positions up to its own; pads see position 0. */
    private static NDArray attentionMask(NDManager scope, List<KvCache> caches, List<int[]> tokens, int maxNew,
            int span, int group) {
        int batch = caches.size();
        float[] mask = new float[batch * group * maxNew * span];
        for (int b = 0; b < batch; b++) {
            int length = caches.get(b).length();
            int n = tokens.get(b).length;
            for (int g = 0; g < group; g++) {
                for (int i = 0; i < maxNew; i++) {
                    int visible = i < n ? length + i : 0;
                    int base = ((b * group + g) * maxNew + i) * span;
                    for (int t = visible + 1; t < span; t++) {
                        mask[base + t] = Float.NEGATIVE_INFINITY;
                    }
                }
            }
        }
        return scope.create(mask, new Shape(batch, 1, (long) group * maxNew, span));
    }

    private NDArray rmsNorm(NDArray x) {
        return x.div(x.square().mean(new int[] {-1}, true).add(config.rmsNormEps()).sqrt());
    }

    private static NDArray own(NDArray a, NDManager scope) {
        a.attach(scope);
        return a;
    }

    /**
     * Logits for every position of whole sequences, (batch, length) token ids to (batch, length, vocab),
     * written as the plain Llama equations on the Hugging Face tensors so that autograd reaches them.
     * Results live in the manager of {@code tokens}.
     */
    public NDArray sequenceLogits(NDArray tokens) {
        return sequenceLogits(weights, tokens);
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
    public void close() {
        manager.close();
        weights.close();
    }
}
