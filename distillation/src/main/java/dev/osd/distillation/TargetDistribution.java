package dev.osd.distillation;

import dev.osd.engine.TopN;

/**
 * The target's next-token distribution at one position, as distillation needs it: every probability for a
 * small vocabulary, or the top N with the mass of all the others for a large one (the rest then counts as one
 * bucket in every divergence).
 *
 * @param ids the tokens whose probabilities are kept, or null when {@code probs} covers the whole vocabulary
 * @param probs probabilities of {@code ids}, or of every token
 * @param rest the probability of every token not kept (0 for a full distribution)
 */
public record TargetDistribution(int[] ids, float[] probs, float rest) {

    /** softmax(logits) at temperature 1; kept whole when topN is 0 or covers the vocabulary. */
    public static TargetDistribution fromLogits(float[] logits, int topN) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] e = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            e[i] = Math.exp(logits[i] - max);
            sum += e[i];
        }
        float[] p = new float[logits.length];
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) (e[i] / sum);
        }
        if (topN <= 0 || topN >= logits.length) {
            return new TargetDistribution(null, p, 0f);
        }
        // selection, not a sort: the target builds records on its own thread, at vocabularies of 128k
        double[] wide = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            wide[i] = p[i];
        }
        int[] ids = TopN.indices(wide, topN);
        float[] kept = new float[topN];
        double keptMass = 0;
        for (int i = 0; i < topN; i++) {
            kept[i] = p[ids[i]];
            keptMass += kept[i];
        }
        return new TargetDistribution(ids, kept, (float) Math.max(0, 1 - keptMass));
    }

    /** The n most probable kept tokens, the others joining the rest mass; this one when it keeps no more. */
    public TargetDistribution top(int n) {
        if (probs.length <= n) {
            return this;
        }
        double[] wide = new double[probs.length];
        for (int i = 0; i < probs.length; i++) {
            wide[i] = probs[i];
        }
        int[] order = TopN.indices(wide, n);
        int[] keptIds = new int[n];
        float[] kept = new float[n];
        double dropped = 0;
        for (float f : probs) {
            dropped += f;
        }
        for (int i = 0; i < n; i++) {
            keptIds[i] = full() ? order[i] : ids[order[i]];
            kept[i] = probs[order[i]];
            dropped -= kept[i];
        }
        return new TargetDistribution(keptIds, kept, (float) Math.max(0, rest + dropped));
    }

    public boolean full() {
        return ids == null;
    }

    /** Probability of one token (0 for a token outside the kept top N). */
    public float probability(int token) {
        if (full()) {
            return probs[token];
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == token) {
                return probs[i];
            }
        }
        return 0f;
    }

    /** The most probable token. */
    public int argmax() {
        int best = 0;
        for (int i = 1; i < probs.length; i++) {
            if (probs[i] > probs[best]) {
                best = i;
            }
        }
        return full() ? best : ids[best];
    }

    /** Floats held, for the replay buffer's memory bound. */
    int size() {
        return probs.length + (ids == null ? 0 : ids.length) + 1;
    }
}
