package dev.osd.engine;

import java.util.SplittableRandom;

/**
 * k draft tokens and the draft distributions q they were drawn from (shaped by the request's sampling
 * parameters, as verification uses them).
 */
public record Proposal(int[] tokens, double[][] q) {

    /**
     * Runs the draft k times on top of its cache: first over {@code feed} (the tokens the cache lacks), then
     * over each drawn token; greedy requests take the argmax.
     */
    public static Proposal draw(LlamaModel draft, KvCache cache, int[] feed, int k, SamplingParams sampling,
            SplittableRandom random) {
        int[] tokens = new int[k];
        double[][] q = new double[k][];
        for (int i = 0; i < k; i++) {
            float[] logits = draft.forward(cache, feed, 1)[0];
            q[i] = Sampler.distribution(logits, sampling);
            tokens[i] = sampling.greedy() ? Sampler.argmax(logits) : Sampler.draw(q[i], random);
            feed = new int[] {tokens[i]};
        }
        return new Proposal(tokens, q);
    }
}
