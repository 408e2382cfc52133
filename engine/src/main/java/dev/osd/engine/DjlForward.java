package dev.osd.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import java.util.List;

/**
 * The serving forward on DJL's PyTorch engine, for GPU targets: fused tensors derived once per model
 * version, because each DJL op costs a JNI round trip that dominates a small model. Per layer one projection
 * yields q, k, v and their rotated halves (RMSNorm's weight, the attention scale and rotate_half are folded
 * into it), rotary embedding is one multiply and one sum, one projection yields gate and up; a batch writes
 * its keys with one index_put into the pool's dense storage and reads its slots with one gather.
 */
final class DjlForward implements ServingForward {

    private final LlamaConfig config;
    private final NDManager manager;
    private final int qCols;
    private final int kvCols;
    private final int fusedCols;
    private final NDArray embedding; // (vocab, hidden)
    private final NDArray[] qkvRotary; // (2, hidden, q+k+v): plain and rotate_half'ed projections
    private final NDArray[] outputProjection; // (heads*headDim, hidden)
    private final NDArray[] gateUp; // (2, hidden, intermediate)
    private final NDArray[] downProjection; // (intermediate, hidden)
    private final NDArray head; // (hidden, vocab)
    private final NDArray rotaryTable; // (2, maxPos, q+k+v): cos and sin, ones and zeros for v


    DjlForward(LlamaWeights weights, NDManager manager, float[] ropeCos, float[] ropeSin) {
        this.config = weights.config();
        this.manager = manager;
        LlamaConfig c = config;
        int h = c.hiddenSize();
        int hd = c.headDim();
        qCols = c.numAttentionHeads() * hd;
        kvCols = c.numKeyValueHeads() * hd;
        fusedCols = qCols + 2 * kvCols;
        int layers = c.numHiddenLayers();
        int maxPos = c.maxPositionEmbeddings();

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

    @Override
    public List<float[][]> run(List<KvCache> caches, List<int[]> tokens, int[] keepLast) {
        int batch = caches.size();
        KvCachePool pool = caches.get(0).pool();
        int maxNew = 0;
        int span = 0;
        for (int b = 0; b < batch; b++) {
            maxNew = Math.max(maxNew, tokens.get(b).length);
            span = Math.max(span, caches.get(b).length() + tokens.get(b).length);
        }
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
            return ServingForward.perSequence(logits, c.vocabSize(), keepLast);
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
}
