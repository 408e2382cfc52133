package dev.osd.distillation;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.osd.engine.AdamW;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import java.util.List;
import java.util.Map;

/**
 * The update step of online distillation: a trainable float32 copy of one draft's weights, moved by AdamW
 * down the gradient of a divergence between the target's distributions and the draft's at the recorded
 * positions. Only one gradient collector may be open per JVM, so every distiller runs on the one training
 * thread; snapshots of its weights are what gets published as new draft versions.
 */
public final class OnlineDistiller implements AutoCloseable {

    private final NDManager manager;
    private final LlamaModel shape;
    private final LlamaWeights trainable;
    private final Divergence divergence;
    private final double learningRate;
    private final double clipNorm;
    private final double weightDecay;
    private AdamW optimizer;
    private double lastGradientNorm = Double.NaN;

    /** @param initial the starting weights, copied; the caller keeps ownership of {@code initial} */
    public OnlineDistiller(LlamaWeights initial, Divergence divergence, double learningRate, double clipNorm,
            double weightDecay) {
        this.manager = initial.manager().getParentManager().newSubManager();
        this.trainable = initial.copy(manager);
        this.shape = LlamaModel.of(initial.copy(manager));
        for (NDArray p : trainable.tensors().values()) {
            p.setRequiresGradient(true);
        }
        this.divergence = divergence;
        this.learningRate = learningRate;
        this.clipNorm = clipNorm;
        this.weightDecay = weightDecay;
        this.optimizer = AdamW.withDefaults(manager, weightDecay);
    }

    int vocabSize() {
        return trainable.config().vocabSize();
    }

    int maxPositions() {
        return trainable.config().maxPositionEmbeddings();
    }

    public Divergence divergence() {
        return divergence;
    }

    /** One AdamW step on a batch of records; returns the batch's divergence before the step. */
    public double update(List<DistillationRecord> records) {
        Evaluation.withoutGradients();
        try (NDManager scope = manager.newSubManager()) {
            DistillationBatch batch = DistillationBatch.of(records, trainable.config().vocabSize(), scope);
            double loss;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray l = divergence.mean(batch.logits(shape, trainable), batch.p(), batch.support());
                collector.backward(l);
                loss = l.getFloat();
            }
            lastGradientNorm = optimizer.step(trainable.tensors(), learningRate, clipNorm);
            return loss;
        }
    }

    /** The divergence of the current weights on records, without gradients. */
    public double loss(List<DistillationRecord> records) {
        return Evaluation.divergence(shape, trainable, divergence, records);
    }

    public double lastGradientNorm() {
        return lastGradientNorm;
    }

    /** A frozen copy of the current weights, owned by the caller. */
    public LlamaWeights snapshot(NDManager parent) {
        LlamaWeights copy = trainable.copy(parent);
        for (NDArray p : copy.tensors().values()) {
            p.setRequiresGradient(false);
        }
        return copy;
    }

    /** Goes back to other weights (a rollback); the optimizer's moments start afresh. */
    public void restore(LlamaWeights weights) {
        Evaluation.withoutGradients();
        for (Map.Entry<String, NDArray> e : trainable.tensors().entrySet()) {
            e.getValue().set(weights.get(e.getKey()).toFloatArray());
        }
        optimizer.close();
        optimizer = AdamW.withDefaults(manager, weightDecay);
    }

    @Override
    public void close() {
        manager.close();
    }
}
