package dev.osd.engine;

/**
 * One propose/verify round, as the target saw it: the context the proposal continued, the proposal with the
 * draft's distributions q, the target's distributions p at the k+1 positions, and the outcome. Position i of
 * q and p scores the token at sequence index {@code context.length + i}.
 */
public record SpeculationRound(int[] context, int[] proposal, double[][] q, double[][] p, Verification verification) {
}
