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
        int context = round.context().length;
        if (context == 0) {
            throw new IllegalArgumentException("a round continues a context of at least one token");
        }
        int m = round.verification().accepted();
        int[] tokens = Arrays.copyOf(round.context(), context + m);
        System.arraycopy(round.proposal(), 0, tokens, context, m);
        int first = policy == RecordPolicy.MISTAKES_ONLY ? m : 0;
        int n = m - first + 1;
        int[] positions = new int[n];
        TargetDistribution[] targets = new TargetDistribution[n];
        for (int i = 0; i < n; i++) {
            int j = first + i; // proposal index whose distribution is scored
            positions[i] = context + j - 1;
            targets[i] = TargetDistribution.fromLogits(round.targetLogits()[j], topN);
        }
        return new DistillationRecord(tokens, positions, targets);
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
