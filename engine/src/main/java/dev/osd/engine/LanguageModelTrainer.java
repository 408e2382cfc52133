package dev.osd.engine;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.Map;

/**
 * Next-token training of a Llama model from scratch or from a checkpoint: cross-entropy over every
 * non-padding position, AdamW, gradient clipping. It owns a trainable copy of the weights; snapshots of it
 * are what gets published or saved. Only one gradient collector may be open per JVM, so callers run one
 * training step at a time.
 */
public final class LanguageModelTrainer implements AutoCloseable {

    private final LlamaModel shape;
    private final LlamaWeights trainable;
    private final AdamW optimizer;
    private final NDManager manager;
    private double lastGradientNorm = Double.NaN;

    /** @param initial the starting weights, copied; the caller keeps ownership of {@code initial} */
    public LanguageModelTrainer(LlamaWeights initial, double weightDecay) {
        this.manager = initial.manager().newSubManager();
        this.trainable = initial.copy(manager);
        this.shape = LlamaModel.of(initial.copy(manager));
        for (NDArray p : trainable.tensors().values()) {
            p.setRequiresGradient(true);
        }
        this.optimizer = AdamW.withDefaults(manager, weightDecay);
    }

    public LlamaWeights weights() {
        return trainable;
    }

    public AdamW optimizer() {
        return optimizer;
    }

    /** One update on a batch of token sequences; returns the mean loss per predicted token. */
    public double step(List<int[]> sequences, double learningRate, double clipNorm) {
        double loss;
        try (NDManager scope = manager.newSubManager()) {
            Batch batch = Batch.of(sequences, scope);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray l = loss(batch);
                collector.backward(l);
                loss = l.getFloat();
            }
            lastGradientNorm = optimizer.step(trainable.tensors(), learningRate, clipNorm);
        }
        return loss;
    }

    /** Global gradient norm of the last step, before clipping. */
    public double lastGradientNorm() {
        return lastGradientNorm;
    }

    /** Mean loss per predicted token, without gradients. */
    public double evaluate(List<int[]> sequences) {
        try (NDManager scope = manager.newSubManager()) {
            return loss(Batch.of(sequences, scope)).getFloat();
        }
    }

    private NDArray loss(Batch b) {
        NDArray logits = shape.sequenceLogits(trainable, b.inputs); // (batch, len, vocab)
        NDArray logProbs = logits.logSoftmax(-1);
        NDArray picked = logProbs.gather(b.targets.expandDims(-1), -1).squeeze(-1); // (batch, len)
        return picked.mul(b.mask).sum().neg().div(b.count);
    }

    /** Inputs are sequence[0..n-2], targets sequence[1..n-1], right-padded, with a mask of real targets. */
    private record Batch(NDArray inputs, NDArray targets, NDArray mask, float count) {
        static Batch of(List<int[]> sequences, NDManager scope) {
            int len = 0;
            for (int[] s : sequences) {
                if (s.length < 2) {
                    throw new IllegalArgumentException("a training sequence needs at least two tokens");
                }
                len = Math.max(len, s.length - 1);
            }
            int n = sequences.size();
            long[] in = new long[n * len];
            long[] out = new long[n * len];
            float[] mask = new float[n * len];
            float count = 0;
            for (int b = 0; b < n; b++) {
                int[] s = sequences.get(b);
                for (int i = 0; i < s.length - 1; i++) {
                    in[b * len + i] = s[i];
                    out[b * len + i] = s[i + 1];
                    mask[b * len + i] = 1;
                    count++;
                }
            }
            Shape shape = new Shape(n, len);
            return new Batch(scope.create(in, shape), scope.create(out, shape), scope.create(mask, shape), count);
        }
    }

    /** A frozen copy of the current weights, owned by the caller. */
    public LlamaWeights snapshot(NDManager parent) {
        LlamaWeights copy = trainable.copy(parent);
        for (NDArray p : copy.tensors().values()) {
            p.setRequiresGradient(false);
        }
        return copy;
    }

    public void restore(Map<String, SafeTensors.Tensor> weights, Map<String, SafeTensors.Tensor> optimizerState) {
        for (Map.Entry<String, NDArray> e : trainable.tensors().entrySet()) {
            SafeTensors.Tensor t = weights.get(e.getKey());
            if (t == null) {
                throw new IllegalArgumentException("checkpoint lacks " + e.getKey());
            }
            e.getValue().set(t.values());
        }
        optimizer.load(optimizerState);
    }

    @Override
    public void close() {
        manager.close();
    }
}
