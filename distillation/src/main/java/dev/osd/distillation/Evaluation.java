package dev.osd.distillation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import java.util.List;

/** Scores a draft on records without training it. */
public final class Evaluation {

    private Evaluation() {
    }

    /**
     * PyTorch's grad mode is per thread and on in a new thread: outside a gradient collector, the training
     * thread must not record graphs (nor refuse in-place updates of trainable weights).
     */
    static void withoutGradients() {
        JniUtils.setGradMode(false);
    }

    /**
     * Mean expected acceptance Σ min(p, q) = 1 − TVD(p, q) over the recorded positions: the probability that
     * the draft's proposal there would be accepted at temperature 1.
     */
    public static double expectedAcceptance(LlamaModel draft, List<DistillationRecord> records) {
        return 1 - divergence(draft, draft.weights(), Divergence.totalVariation(), records);
    }

    /** Mean divergence over the recorded positions. */
    static double divergence(LlamaModel shape, LlamaWeights weights, Divergence d, List<DistillationRecord> records) {
        withoutGradients();
        try (NDManager scope = weights.manager().getParentManager().newSubManager()) {
            DistillationBatch batch = DistillationBatch.of(records, weights.config().vocabSize(), scope);
            NDArray logits = batch.logits(shape, weights);
            logits.attach(scope);
            NDArray rows = d.perRow(logits, batch.p(), batch.support());
            return rows.mean().getFloat();
        }
    }
}
