package dev.osd.engine;

import java.util.List;
import java.util.Map;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU serving forward: n new tokens for each of several sequences on top of their paged caches, in plain
 * Java with the JDK Vector API. All rows of a call (a request's k+1 verification positions, and the rows of
 * every request batched with it) go through each weight matrix together ({@link WeightMatrix#multiply}), so
 * the weights are read once per forward whatever the number of rows; attention reads each sequence's cache
 * blocks in place. Steady state allocates nothing but the returned logits (scratch space is per thread).
 */
final class CpuForward implements ServingForward {

    private static final VectorSpecies<Float> F = WeightMatrix.F;
    private static final int L = F.length();

    private final LlamaConfig c;
    private final int hidden;
    private final int headDim;
    private final int qDim;
    private final int kvDim;
    private final int qkvDim;
    private final int inter;
    private final WeightMatrix embedding; // (vocab, hidden)
    private final WeightMatrix head; // (vocab, hidden): lm_head, or the embedding when tied
    private final float[][] inputNorm; // per layer (hidden)
    private final float[][] postNorm;
    private final float[] finalNorm;
    // per layer q (q, hidden), k and v (kv, hidden): their outputs side by side in one (rows, q + k + v) buffer
    private final WeightMatrix[] q;
    private final WeightMatrix[] k;
    private final WeightMatrix[] v;
    private final WeightMatrix[] attnOut; // per layer (hidden, q)
    private final WeightMatrix[] gate; // per layer (intermediate, hidden), beside up in one (rows, 2 * inter) buffer
    private final WeightMatrix[] up;
    private final WeightMatrix[] down; // per layer (hidden, intermediate)
    private final float[] invFreq; // (head_dim / 2)
    private final ThreadLocal<Scratch> scratch = new ThreadLocal<>();

    /** The forward over DJL weights, each matrix copied to the host in the narrowest dtype that holds it exactly. */
    CpuForward(LlamaWeights w) {
        this(w.config(), new Tensors() {
            @Override
            public float[] vector(String name) {
                return w.hostValues(name);
            }

            @Override
            public WeightMatrix matrix(int rows, int cols, String name) {
                return WeightMatrix.of(w.hostValues(name), rows, cols);
            }
        });
    }

    /**
     * The forward over tensors as a checkpoint stores them (checked by {@link LlamaWeights#checkStored}): F16
     * and BF16 matrices keep their bit patterns, so no float32 copy of the weights ever exists. Each tensor is
     * removed from {@code stored} once taken, so the caller's map drains as the forward fills and loading
     * needs little more than the stored size.
     */
    static CpuForward fromStored(LlamaConfig config, Map<String, SafeTensors.StoredTensor> stored) {
        return new CpuForward(config, new Tensors() {
            @Override
            public float[] vector(String name) {
                return take(name).values();
            }

            @Override
            public WeightMatrix matrix(int rows, int cols, String name) {
                SafeTensors.StoredTensor t = take(name);
                if (t.dtype() == SafeTensors.DType.F32) { // the narrowest dtype that holds the values exactly
                    return WeightMatrix.of(t.values(), rows, cols);
                }
                return WeightMatrix.ofBits(t.bits(), rows, cols, t.dtype() == SafeTensors.DType.BF16
                        ? WeightMatrix.Storage.BF16 : WeightMatrix.Storage.F16);
            }

            private SafeTensors.StoredTensor take(String name) {
                SafeTensors.StoredTensor t = stored.remove(name);
                if (t == null) {
                    throw new IllegalArgumentException("no stored tensor " + name);
                }
                return t;
            }
        });
    }

    /** Where construction takes the weights from. */
    private interface Tensors {
        float[] vector(String name);

        /** The (rows, cols) matrix of one tensor. */
        WeightMatrix matrix(int rows, int cols, String name);
    }

    private CpuForward(LlamaConfig config, Tensors w) {
        c = config;
        hidden = c.hiddenSize();
        headDim = c.headDim();
        qDim = c.numAttentionHeads() * headDim;
        kvDim = c.numKeyValueHeads() * headDim;
        qkvDim = qDim + 2 * kvDim;
        inter = c.intermediateSize();
        int layers = c.numHiddenLayers();
        embedding = w.matrix(c.vocabSize(), hidden, "model.embed_tokens.weight");
        head = c.tieWordEmbeddings() ? embedding : w.matrix(c.vocabSize(), hidden, "lm_head.weight");
        finalNorm = w.vector("model.norm.weight");
        inputNorm = new float[layers][];
        postNorm = new float[layers][];
        q = new WeightMatrix[layers];
        k = new WeightMatrix[layers];
        v = new WeightMatrix[layers];
        attnOut = new WeightMatrix[layers];
        gate = new WeightMatrix[layers];
        up = new WeightMatrix[layers];
        down = new WeightMatrix[layers];
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            inputNorm[l] = w.vector(p + "input_layernorm.weight");
            postNorm[l] = w.vector(p + "post_attention_layernorm.weight");
            q[l] = w.matrix(qDim, hidden, p + "self_attn.q_proj.weight");
            k[l] = w.matrix(kvDim, hidden, p + "self_attn.k_proj.weight");
            v[l] = w.matrix(kvDim, hidden, p + "self_attn.v_proj.weight");
            attnOut[l] = w.matrix(hidden, qDim, p + "self_attn.o_proj.weight");
            gate[l] = w.matrix(inter, hidden, p + "mlp.gate_proj.weight");
            up[l] = w.matrix(inter, hidden, p + "mlp.up_proj.weight");
            down[l] = w.matrix(hidden, inter, p + "mlp.down_proj.weight");
        }
        double[] inverse = c.ropeInverseFrequencies(); // float32 values, rope scaling applied
        invFreq = new float[headDim / 2];
        for (int i = 0; i < invFreq.length; i++) {
            invFreq[i] = (float) inverse[i];
        }
    }

    /** Bytes of weights held (each matrix in its stored dtype). */
    long weightBytes() {
        long bytes = embedding.bytes() + (head == embedding ? 0 : head.bytes());
        for (int l = 0; l < q.length; l++) {
            bytes += q[l].bytes() + k[l].bytes() + v[l].bytes() + attnOut[l].bytes() + gate[l].bytes()
                    + up[l].bytes() + down[l].bytes();
        }
        return bytes;
    }

    WeightMatrix.Storage storage() {
        return q[0].storage;
    }

    /** Per-thread working memory, grown to the largest number of rows seen. */
    private final class Scratch {
        final int capacity;
        final float[] x; // (rows, hidden) the residual stream
        final float[] xb; // (rows, hidden) normed input of a projection
        final float[] delta; // (rows, hidden) a projection's output before the residual add
        final float[] qkvOut; // (rows, q + k + v)
        final float[] attended; // (rows, q)
        final float[] gu; // (rows, 2 * intermediate)
        final float[] act; // (rows, intermediate)
        final float[] cos; // (rows, head_dim / 2)
        final float[] sin;
        final int[] position; // (rows) position of each row in its sequence
        final int[] sequence; // (rows) which sequence of the batch a row belongs to
        final float[] scores; // (4, scoreStride) attention weights of four queries
        final int scoreStride; // max positions rounded up to a whole block
        final int[] queryAt = new int[4]; // where each of the four queries starts in qkvOut
        final int[] span = new int[4]; // positions each of the four queries sees
        final float[] valueSum; // (4, head_dim)
        final float[] logits; // (rows, vocab)

        Scratch(int rows) {
            capacity = rows;
            x = new float[rows * hidden];
            xb = new float[rows * hidden];
            delta = new float[rows * hidden];
            qkvOut = new float[rows * qkvDim];
            attended = new float[rows * qDim];
            gu = new float[rows * 2 * inter];
            act = new float[rows * inter];
            cos = new float[rows * headDim / 2];
            sin = new float[rows * headDim / 2];
            position = new int[rows];
            sequence = new int[rows];
            scoreStride = KvCachePool.blocksFor(c.maxPositionEmbeddings()) * KvCachePool.BLOCK;
            scores = new float[4 * scoreStride];
            valueSum = new float[4 * headDim];
            logits = new float[rows * c.vocabSize()];
        }
    }

    private Scratch scratch(int rows) {
        Scratch s = scratch.get();
        if (s == null || s.capacity < rows) {
            s = new Scratch(Math.max(rows, s == null ? 8 : 2 * s.capacity));
            scratch.set(s);
        }
        return s;
    }

    @Override
    public List<float[][]> run(List<KvCache> caches, List<int[]> tokens, int[] keepLast) {
        int batch = caches.size();
        int rows = 0;
        for (int[] t : tokens) {
            rows += t.length;
        }
        Scratch s = scratch(rows);
        int half = headDim / 2;
        // embedding lookup, and each row's sequence, position and rotary angles
        int r = 0;
        for (int b = 0; b < batch; b++) {
            KvCache cache = caches.get(b);
            int[] t = tokens.get(b);
            cache.reserve(cache.length() + t.length);
            for (int i = 0; i < t.length; i++, r++) {
                embedding.row(t[i], s.x, r * hidden);
                int p = cache.length() + i;
                s.sequence[r] = b;
                s.position[r] = p;
                for (int j = 0; j < half; j++) {
                    float angle = (float) p * invFreq[j];
                    s.cos[r * half + j] = (float) Math.cos(angle);
                    s.sin[r * half + j] = (float) Math.sin(angle);
                }
            }
        }
        KvCachePool pool = caches.get(0).pool();
        for (int l = 0; l < q.length; l++) {
            // attention rmsnorm, q k v projections (rows, q + k + v)
            rmsNorm(s.x, s.xb, rows, inputNorm[l]);
            q[l].multiply(s.xb, 0, rows, s.qkvOut, 0, qkvDim);
            k[l].multiply(s.xb, 0, rows, s.qkvOut, qDim, qkvDim);
            v[l].multiply(s.xb, 0, rows, s.qkvOut, qDim + kvDim, qkvDim);
            // RoPE on q and k; keys and values into each sequence's cache at the row's position
            float[][] keys = pool.keyBlocks[l];
            float[][] values = pool.valueBlocks[l];
            for (r = 0; r < rows; r++) {
                int base = r * qkvDim;
                for (int hd = 0; hd < qDim + kvDim; hd += headDim) {
                    rotate(s.qkvOut, base + hd, s.cos, s.sin, r * half);
                }
                KvCache cache = caches.get(s.sequence[r]);
                int p = s.position[r];
                int slot = p % KvCachePool.BLOCK;
                int block = cache.block(p);
                float[] kb = keys[block];
                for (int d = 0; d < kvDim; d++) { // keys (kv_head, head_dim, BLOCK): positions side by side
                    kb[d * KvCachePool.BLOCK + slot] = s.qkvOut[base + qDim + d];
                }
                System.arraycopy(s.qkvOut, base + qDim + kvDim, values[block], slot * kvDim, kvDim);
            }
            // attention of every row over its own sequence, causal (positions up to its own)
            r = 0;
            for (int b = 0; b < batch; b++) {
                int n = tokens.get(b).length;
                attend(caches.get(b), r, n, s.position[r], keys, values, s);
                r += n;
            }
            // output projection and residual
            attnOut[l].multiply(s.attended, 0, rows, s.delta, 0, hidden);
            add(s.x, s.delta, rows * hidden);
            // mlp rmsnorm, gate and up (rows, 2 * intermediate), SwiGLU, down and residual
            rmsNorm(s.x, s.xb, rows, postNorm[l]);
            gate[l].multiply(s.xb, 0, rows, s.gu, 0, 2 * inter);
            up[l].multiply(s.xb, 0, rows, s.gu, inter, 2 * inter);
            swiglu(s.gu, s.act, rows);
            down[l].multiply(s.act, 0, rows, s.delta, 0, hidden);
            add(s.x, s.delta, rows * hidden);
        }
        // final rmsnorm of the kept rows, output head (kept, vocab)
        int kept = 0;
        r = 0;
        for (int b = 0; b < batch; b++) {
            int n = tokens.get(b).length;
            for (int i = n - keepLast[b]; i < n; i++, kept++) {
                System.arraycopy(s.x, (r + i) * hidden, s.delta, kept * hidden, hidden);
            }
            r += n;
        }
        rmsNorm(s.delta, s.xb, kept, finalNorm);
        head.multiply(s.xb, 0, kept, s.logits, 0, c.vocabSize());
        return ServingForward.perSequence(s.logits, c.vocabSize(), keepLast);
    }

    /** out = x / rms(x) · weight, per row of {@code hidden}. */
    private void rmsNorm(float[] x, float[] out, int rows, float[] weight) {
        int bound = F.loopBound(hidden);
        float eps = (float) c.rmsNormEps();
        for (int r = 0; r < rows; r++) {
            int o = r * hidden;
            FloatVector acc = FloatVector.zero(F);
            int i = 0;
            for (; i < bound; i += L) {
                FloatVector v = FloatVector.fromArray(F, x, o + i);
                acc = v.fma(v, acc);
            }
            float ss = acc.reduceLanes(VectorOperators.ADD);
            for (; i < hidden; i++) {
                ss += x[o + i] * x[o + i];
            }
            float inv = (float) (1.0 / Math.sqrt(ss / hidden + eps));
            i = 0;
            for (; i < bound; i += L) {
                FloatVector.fromArray(F, x, o + i).mul(inv).mul(FloatVector.fromArray(F, weight, i))
                        .intoArray(out, o + i);
            }
            for (; i < hidden; i++) {
                out[o + i] = x[o + i] * inv * weight[i];
            }
        }
    }

    /** rotate_half RoPE of one head at {@code at}: pairs (j, j + head_dim/2). */
    private void rotate(float[] v, int at, float[] cos, float[] sin, int angles) {
        int half = headDim / 2;
        for (int j = 0; j < half; j++) {
            float a = v[at + j];
            float b = v[at + j + half];
            float co = cos[angles + j];
            float si = sin[angles + j];
            v[at + j] = a * co - b * si;
            v[at + j + half] = b * co + a * si;
        }
    }

    /**
     * Attention of the {@code n} rows [row0, row0 + n) of one sequence (positions first, first + 1, ...) over
     * its cache, causal. The queries that share a key/value head (the group's heads, for every row) go
     * through the cache together, four at a time, so each key and value vector is loaded once per four
     * queries; a key block holds its positions side by side, so one vector FMA scores BLOCK positions.
     */
    private void attend(KvCache cache, int row0, int n, int first, float[][] keys, float[][] values, Scratch s) {
        int group = c.queriesPerKeyValue();
        int queries = n * group;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        for (int g = 0; g < c.numKeyValueHeads(); g++) {
            for (int j0 = 0; j0 < queries; j0 += 4) {
                // query j: row j / group, head g * group + j % group; a short last chunk repeats its last
                for (int j = 0; j < 4; j++) {
                    int q = Math.min(j0 + j, queries - 1);
                    int row = row0 + q / group;
                    s.queryAt[j] = row * qkvDim + (g * group + q % group) * headDim;
                    s.span[j] = first + q / group + 1;
                }
                scores(cache, g, keys, s, scale);
                for (int j = 0; j < 4; j++) {
                    softmax(s.scores, j * s.scoreStride, s.span[j]);
                }
                weightedValues(cache, g, values, s);
                for (int j = 0; j < 4 && j0 + j < queries; j++) {
                    int q = j0 + j;
                    int row = row0 + q / group;
                    System.arraycopy(s.valueSum, j * headDim, s.attended,
                            row * qDim + (g * group + q % group) * headDim, headDim);
                }
            }
        }
    }

    /** scores[j][t] = q_j · k_t · scale for the four queries of s.queryAt, t below the longest span. */
    private void scores(KvCache cache, int g, float[][] keys, Scratch s, float scale) {
        int span = Math.max(Math.max(s.span[0], s.span[1]), Math.max(s.span[2], s.span[3]));
        float[] q = s.qkvOut;
        int q0 = s.queryAt[0];
        int q1 = s.queryAt[1];
        int q2 = s.queryAt[2];
        int q3 = s.queryAt[3];
        int stride = s.scoreStride;
        int blockBase = g * headDim * KvCachePool.BLOCK;
        for (int t0 = 0; t0 < span; t0 += KvCachePool.BLOCK) {
            float[] kb = keys[cache.block(t0)];
            for (int v = 0; v < KvCachePool.BLOCK; v += L) {
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                FloatVector a2 = FloatVector.zero(F);
                FloatVector a3 = FloatVector.zero(F);
                int k = blockBase + v;
                for (int d = 0; d < headDim; d++, k += KvCachePool.BLOCK) {
                    FloatVector kv = FloatVector.fromArray(F, kb, k);
                    a0 = kv.fma(FloatVector.broadcast(F, q[q0 + d]), a0);
                    a1 = kv.fma(FloatVector.broadcast(F, q[q1 + d]), a1);
                    a2 = kv.fma(FloatVector.broadcast(F, q[q2 + d]), a2);
                    a3 = kv.fma(FloatVector.broadcast(F, q[q3 + d]), a3);
                }
                a0.mul(scale).intoArray(s.scores, t0 + v);
                a1.mul(scale).intoArray(s.scores, stride + t0 + v);
                a2.mul(scale).intoArray(s.scores, 2 * stride + t0 + v);
                a3.mul(scale).intoArray(s.scores, 3 * stride + t0 + v);
            }
        }
    }

    /** Softmax in place over scores[at, at + span). */
    private static void softmax(float[] scores, int at, int span) {
        int bound = F.loopBound(span);
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int t = 0;
        for (; t < bound; t += L) {
            mv = mv.max(FloatVector.fromArray(F, scores, at + t));
        }
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; t < span; t++) {
            max = Math.max(max, scores[at + t]);
        }
        FloatVector sv = FloatVector.zero(F);
        t = 0;
        for (; t < bound; t += L) {
            FloatVector e = FloatExp.exp(FloatVector.fromArray(F, scores, at + t).sub(max));
            e.intoArray(scores, at + t);
            sv = sv.add(e);
        }
        float sum = sv.reduceLanes(VectorOperators.ADD);
        for (; t < span; t++) {
            float e = FloatExp.exp(scores[at + t] - max);
            scores[at + t] = e;
            sum += e;
        }
        float inv = 1f / sum;
        t = 0;
        for (; t < bound; t += L) {
            FloatVector.fromArray(F, scores, at + t).mul(inv).intoArray(scores, at + t);
        }
        for (; t < span; t++) {
            scores[at + t] *= inv;
        }
    }

    /** valueSum[j] = Σ_{t < span_j} p_j[t] · v_t for the four queries, head_dim-wide chunks of L. */
    private void weightedValues(KvCache cache, int g, float[][] values, Scratch s) {
        int stride = s.scoreStride;
        float[] p = s.scores;
        int s0 = s.span[0];
        int s1 = s.span[1];
        int s2 = s.span[2];
        int s3 = s.span[3];
        int span = Math.max(Math.max(s0, s1), Math.max(s2, s3));
        int bound = F.loopBound(headDim);
        for (int d = 0; d < bound; d += L) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            int at = g * headDim + d;
            for (int t = 0; t < span; t++) {
                FloatVector v = FloatVector.fromArray(F, values[cache.block(t)], (t % KvCachePool.BLOCK) * kvDim + at);
                // a query past its span adds 0 (its weights there are not its own: masked by the span)
                a0 = v.fma(FloatVector.broadcast(F, t < s0 ? p[t] : 0f), a0);
                a1 = v.fma(FloatVector.broadcast(F, t < s1 ? p[stride + t] : 0f), a1);
                a2 = v.fma(FloatVector.broadcast(F, t < s2 ? p[2 * stride + t] : 0f), a2);
                a3 = v.fma(FloatVector.broadcast(F, t < s3 ? p[3 * stride + t] : 0f), a3);
            }
            a0.intoArray(s.valueSum, d);
            a1.intoArray(s.valueSum, headDim + d);
            a2.intoArray(s.valueSum, 2 * headDim + d);
            a3.intoArray(s.valueSum, 3 * headDim + d);
        }
        for (int d = bound; d < headDim; d++) { // head_dim past the last whole vector
            for (int j = 0; j < 4; j++) {
                float sum = 0f;
                for (int t = 0; t < s.span[j]; t++) {
                    sum += p[j * stride + t] * values[cache.block(t)][(t % KvCachePool.BLOCK) * kvDim + g * headDim + d];
                }
                s.valueSum[j * headDim + d] = sum;
            }
        }
    }

    private static void add(float[] x, float[] delta, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += L) {
            FloatVector.fromArray(F, x, i).add(FloatVector.fromArray(F, delta, i)).intoArray(x, i);
        }
        for (; i < n; i++) {
            x[i] += delta[i];
        }
    }

    /** act = silu(gate) · up, gate and up side by side in each row of gu. */
    private void swiglu(float[] gu, float[] act, int rows) {
        int bound = F.loopBound(inter);
        for (int r = 0; r < rows; r++) {
            int g = r * 2 * inter;
            int u = g + inter;
            int a = r * inter;
            int i = 0;
            for (; i < bound; i += L) {
                FloatVector gate = FloatVector.fromArray(F, gu, g + i);
                FloatVector sig = FloatExp.exp(gate.neg()).add(1f);
                gate.div(sig).mul(FloatVector.fromArray(F, gu, u + i)).intoArray(act, a + i);
            }
            for (; i < inter; i++) {
                float gate = gu[g + i];
                act[a + i] = gate / (FloatExp.exp(-gate) + 1f) * gu[u + i];
            }
        }
    }
}
