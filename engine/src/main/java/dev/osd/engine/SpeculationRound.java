package dev.osd.engine;

/**
 * One propose/verify round as a same-thread decoder ({@link SpeculativeDecoder}) saw it: the context the
 * proposal continued, the proposal with the draft's sparse distributions q, the target's distributions p at
 * the k+1 positions (both shaped by the request's sampling parameters, as verification used them), the
 * target's raw logits there (what distillation learns from, whatever the request's temperature), and the
 * outcome. Position i of q, p and targetLogits scores the token at sequence index {@code context.length + i}.
 * It never crosses actors: in serving, the target actor builds the distillation record itself.
 */
public record SpeculationRound(int[] context, int[] proposal, SparseDistribution[] q, double[][] p,
        float[][] targetLogits, Verification verification) {
}
