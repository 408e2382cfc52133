package dev.osd.distillation;

import dev.osd.engine.SpeculationRound;
import java.util.Arrays;

/**
 * What one verification round teaches a draft: a token sequence and, at some of its positions, the
 * distribution the target wanted for the next token. {@code positions[i]} indexes {@code tokens}: the draft's
 * logits at that index predict the token after it, and {@code targets[i]} is what they should have been.
 *
 * <p>Alignment, the prototype's known pitfall: proposal j of a round (0-based) was drawn from the draft's
 * logits at sequence index {@code context.length + j - 1}, the last token it had seen. The round's first
 * rejected proposal m (or the bonus position m = k after full acceptance) is therefore scored at index
 * {@code context.length + m - 1}, and the tokens up to there are the context plus the m accepted proposals.
 */
public record DistillationRecord(int[] tokens, int[] positions, TargetDistribution[] targets) {

    public DistillationRecord {
        if (positions.length != targets.length || positions.length == 0) {
            throw new IllegalArgumentException("a record needs one target per position, and at least one");
        }
        for (int p : positions) {
            if (p < 0 || p >= tokens.length) {
                throw new IllegalArgumentException("position " + p + " outside the record's " + tokens.length
                        + " tokens");
            }
        }
    }

    /** The record of one round under a policy; topN 0 keeps full distributions. */
    public static DistillationRecord of(SpeculationRound round, RecordPolicy policy, int topN) {
        return of(round.context(), round.proposal(), round.verification().accepted(), round.targetLogits(), policy,
                topN);
    }

    /**
     * The record of one verified round, built where the target's logits are (the target actor): no
     * whole-vocabulary row leaves it unless topN keeps the whole distribution.
     *
     * @param context the sequence the proposal continued
     * @param proposal the k proposed tokens
     * @param accepted how many of them the verification accepted
     * @param targetLogits the target's raw logits at the k + 1 verified positions
     * @param topN target distributions keep their top N and the rest mass; 0 keeps them whole
     */
    public static DistillationRecord of(int[] context, int[] proposal, int accepted, float[][] targetLogits,
            RecordPolicy policy, int topN) {
        if (context.length == 0) {
            throw new IllegalArgumentException("a round continues a context of at least one token");
        }
        int m = accepted;
        int[] tokens = Arrays.copyOf(context, context.length + m);
        System.arraycopy(proposal, 0, tokens, context.length, m);
        int first = policy == RecordPolicy.MISTAKES_ONLY ? m : 0;
        int n = m - first + 1;
        int[] positions = new int[n];
        TargetDistribution[] targets = new TargetDistribution[n];
        for (int i = 0; i < n; i++) {
            int j = first + i; // proposal index whose distribution is scored
            positions[i] = context.length + j - 1;
            targets[i] = TargetDistribution.fromLogits(targetLogits[j], topN);
        }
        return new DistillationRecord(tokens, positions, targets);
    }

    /**
     * This record (of every verified position, {@link RecordPolicy#ALL_VERIFIED}) as a trainer with its own
     * settings keeps it: the last position alone under {@link RecordPolicy#MISTAKES_ONLY} (the correction or the
     * bonus token is always last), and each target cut to topN when it keeps more (0: as it is).
     */
    public DistillationRecord restrictedTo(RecordPolicy policy, int topN) {
        int from = policy == RecordPolicy.MISTAKES_ONLY ? positions.length - 1 : 0;
        boolean cut = false;
        for (TargetDistribution t : targets) {
            cut |= topN > 0 && t.probs().length > topN;
        }
        if (from == 0 && !cut) {
            return this;
        }
        int n = positions.length - from;
        TargetDistribution[] kept = new TargetDistribution[n];
        for (int i = 0; i < n; i++) {
            kept[i] = topN > 0 ? targets[from + i].top(topN) : targets[from + i];
        }
        return new DistillationRecord(tokens, Arrays.copyOfRange(positions, from, positions.length), kept);
    }

    /** Floats held, for the replay buffer's memory bound. */
    long size() {
        long s = tokens.length + positions.length;
        for (TargetDistribution t : targets) {
            s += t.size();
        }
        return s;
    }
}
