package dev.osd.engine;

/**
 * One propose/verify round, as the target saw it: the context the proposal continued, the proposal with the
 * draft's distributions q, the target's distributions p at the k+1 positions (both shaped by the request's
 * sampling parameters, as verification used them), the target's raw logits there (what distillation learns
 * from, whatever the request's temperature), and the outcome. Position i of q, p and targetLogits scores the
 * token at sequence index {@code context.length + i}.
 */
public record SpeculationRound(int[] context, int[] proposal, double[][] q, double[][] p, float[][] targetLogits,
        Verification verification) {
}
