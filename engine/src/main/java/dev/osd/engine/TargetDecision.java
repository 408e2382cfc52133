package dev.osd.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * What the target decides from its logits for one sequence, next to them: a plain step's sampled token, or a
 * verified proposal's emitted tokens, with their log-probabilities when the request asked for them. The
 * logits stay where they were computed; only this (a few tokens, k acceptance figures) goes back.
 *
 * @param tokens the tokens the round emits (a plain step: one)
 * @param verification the verification of a proposal, or null for a plain step
 * @param logprobs each emitted token's log-probability and top alternatives when asked for, else null
 * @param p the target's shaped distributions at the verified positions (for a same-thread trainer; never sent)
 */
public record TargetDecision(int[] tokens, Verification verification, List<TokenLogprob> logprobs, double[][] p) {

    /**
     * A plain step: the token at position {@code length} after {@code history[0, length)} from the last
     * position's logits, shaped over that history ({@link Sampler#next(float[], SamplingParams, SplittableRandom,
     * int[], int)}: the counter-noise choice when seeded).
     */
    public static TargetDecision step(float[] logits, SamplingParams sampling, SplittableRandom random,
            int[] history, int length, int logprobs) {
        int t = Sampler.next(logits, sampling, random, history, length);
        return new TargetDecision(new int[] {t}, null, logprobs < 0 ? null : List.of(TokenLogprob.of(logits, t,
                logprobs)), null);
    }

    /**
     * A proposal's verification against the target's logits at its k + 1 positions. Row i is shaped over the
     * sequence and the first i proposed tokens, as the draft shaped its q; a seeded request is verified by
     * {@link SeededVerifier} (the target's counter-noise token at each position), any other by {@code verifier}.
     *
     * @param logits k + 1 rows: the pending token's position, then each proposal's
     * @param history the sequence so far, {@code history[0, length)} (longer arrays are read only that far)
     * @param length the sequence's length: the position of the first proposed token
     * @param logprobs -1: none; n >= 0: each emitted token's log-probability and its n most likely alternatives
     */
    public static TargetDecision verify(float[][] logits, int[] proposal, SparseDistribution[] q,
            SamplingParams sampling, SplittableRandom random, int[] history, int length, int logprobs,
            SpeculativeVerifier verifier) {
        int k = proposal.length;
        if (logits.length != k + 1) {
            throw new IllegalArgumentException("need k + 1 = " + (k + 1) + " rows of logits, got " + logits.length);
        }
        if (length > history.length) {
            throw new IllegalArgumentException("a sequence of " + length + " tokens with a history of "
                    + history.length);
        }
        int[] shapedOver = Arrays.copyOf(history, length + k);
        System.arraycopy(proposal, 0, shapedOver, length, k);
        double[][] p = new double[k + 1][];
        for (int i = 0; i <= k; i++) {
            p[i] = Sampler.distribution(logits[i], sampling, shapedOver, length + i);
        }
        Verification v = sampling.seeded() && !sampling.greedy()
                ? SeededVerifier.verify(proposal, q, p, sampling.seed(), length)
                : verifier.verify(proposal, q, p, random);
        List<TokenLogprob> lp = null;
        if (logprobs >= 0) {
            lp = new ArrayList<>(v.emitted().length);
            for (int i = 0; i < v.emitted().length; i++) {
                lp.add(TokenLogprob.of(logits[i], v.emitted()[i], logprobs));
            }
            lp = List.copyOf(lp);
        }
        return new TargetDecision(v.emitted(), v, lp, p);
    }
}
