package dev.osd.distillation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Records as tensors: token sequences right-padded into (records, length) (causal attention keeps padding
 * out of every scored position), the flat indices of the scored positions, and the target buckets that
 * {@link Divergence} reads.
 */
record DistillationBatch(NDArray tokens, NDArray rows, NDArray p, NDArray support, int positions) {

    static DistillationBatch of(List<DistillationRecord> records, int vocab, NDManager scope) {
        if (records.isEmpty()) {
            throw new IllegalArgumentException("an empty batch");
        }
        records = coalesce(records);
        int n = records.size();
        int len = 0;
        int positions = 0;
        for (DistillationRecord r : records) {
            len = Math.max(len, r.tokens().length);
            positions += r.positions().length;
        }
        long[] tokens = new long[n * len];
        long[] rows = new long[positions];
        float[] p = new float[positions * (vocab + 1)];
        float[] support = new float[positions * vocab];
        int row = 0;
        for (int b = 0; b < n; b++) {
            DistillationRecord r = records.get(b);
            for (int i = 0; i < r.tokens().length; i++) {
                tokens[b * len + i] = r.tokens()[i];
            }
            for (int i = 0; i < r.positions().length; i++) {
                rows[row] = (long) b * len + r.positions()[i];
                TargetDistribution t = r.targets()[i];
                int pBase = row * (vocab + 1);
                int sBase = row * vocab;
                if (t.full()) {
                    if (t.probs().length != vocab) {
                        throw new IllegalArgumentException("target distribution over " + t.probs().length
                                + " tokens for a draft vocabulary of " + vocab);
                    }
                    System.arraycopy(t.probs(), 0, p, pBase, vocab);
                    Arrays.fill(support, sBase, sBase + vocab, 1f);
                } else {
                    for (int j = 0; j < t.ids().length; j++) {
                        p[pBase + t.ids()[j]] = t.probs()[j];
                        support[sBase + t.ids()[j]] = 1f;
                    }
                }
                p[pBase + vocab] = t.rest();
                row++;
            }
        }
        return new DistillationBatch(scope.create(tokens, new Shape(n, len)), scope.create(rows),
                scope.create(p, new Shape(positions, vocab + 1)), scope.create(support, new Shape(positions, vocab)),
                positions);
    }

    /**
     * Records of one request form a chain (each round's tokens extend the previous round's), so a record
     * whose tokens are a prefix of another's is scored inside the longer one: one sequence in the forward
     * instead of one per round, same positions, same targets.
     */
    static List<DistillationRecord> coalesce(List<DistillationRecord> records) {
        List<DistillationRecord> byLength = new ArrayList<>(records);
        byLength.sort((a, b) -> Integer.compare(b.tokens().length, a.tokens().length));
        List<int[]> tokens = new ArrayList<>();
        List<List<Integer>> positions = new ArrayList<>();
        List<List<TargetDistribution>> targets = new ArrayList<>();
        for (DistillationRecord r : byLength) {
            int into = -1;
            for (int i = 0; i < tokens.size() && into < 0; i++) {
                if (Arrays.equals(tokens.get(i), 0, r.tokens().length, r.tokens(), 0, r.tokens().length)) {
                    into = i;
                }
            }
            if (into < 0) {
                into = tokens.size();
                tokens.add(r.tokens());
                positions.add(new ArrayList<>());
                targets.add(new ArrayList<>());
            }
            for (int j = 0; j < r.positions().length; j++) {
                positions.get(into).add(r.positions()[j]);
                targets.get(into).add(r.targets()[j]);
            }
        }
        List<DistillationRecord> out = new ArrayList<>(tokens.size());
        for (int i = 0; i < tokens.size(); i++) {
            out.add(new DistillationRecord(tokens.get(i), positions.get(i).stream().mapToInt(Integer::intValue).toArray(),
                    targets.get(i).toArray(new TargetDistribution[0])));
        }
        return out;
    }

    /** The draft's logits at the scored positions, (positions, vocab). */
    NDArray logits(LlamaModel shape, LlamaWeights weights) {
        NDArray all = shape.sequenceLogits(weights, tokens); // (records, length, vocab)
        long vocab = all.getShape().get(2);
        return all.reshape(-1, vocab).get(new NDIndex("{}", rows));
    }
}
