package dev.osd.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * k draft tokens and the draft distributions q they were drawn from (shaped by the request's sampling
 * parameters, as verification uses them).
 */
public record Proposal(int[] tokens, double[][] q) {

    /**
     * {@link #draw(LlamaModel, KvCache, int[], int[], int, SamplingParams, SplittableRandom)} where the cache is
     * empty (the feed is the whole sequence), or where no history is needed (no logits shaping, not seeded).
     */
    public static Proposal draw(LlamaModel draft, KvCache cache, int[] feed, int k, SamplingParams sampling,
            SplittableRandom random) {
        return draw(draft, cache, feed, sequenceOf(cache, feed, sampling), k, sampling, random);
    }

    /**
     * The sequence a cache and its feed stand for, when the caller did not say: the feed itself over an empty
     * cache; a placeholder of the right length where the tokens do not matter (no shaping, not seeded).
     */
    public static int[] sequenceOf(KvCache cache, int[] feed, SamplingParams sampling) {
        if (cache.length() == 0) {
            return feed;
        }
        if (!sampling.shaping().neutralLogits() || sampling.seeded()) {
            throw new IllegalArgumentException("shaped or seeded proposals need the whole sequence");
        }
        return new int[cache.length() + feed.length];
    }

    /**
     * Runs the draft k times on top of its cache: first over {@code feed} (the tokens the cache lacks), then
     * over each drawn token; greedy requests take the argmax, seeded ones the counter-noise choice.
     *
     * @param sequence the whole sequence so far (the shaping's history; the cache plus the feed)
     */
    public static Proposal draw(LlamaModel draft, KvCache cache, int[] feed, int[] sequence, int k,
            SamplingParams sampling, SplittableRandom random) {
        int[] tokens = new int[k];
        double[][] q = new double[k][];
        int[] history = Arrays.copyOf(sequence, sequence.length + k);
        for (int i = 0; i < k; i++) {
            float[] logits = draft.forward(cache, feed, 1)[0];
            int position = sequence.length + i;
            q[i] = Sampler.distribution(logits, sampling, history, position);
            tokens[i] = Sampler.choose(q[i], sampling, random, position);
            history[position] = tokens[i];
            feed = new int[] {tokens[i]};
        }
        return new Proposal(tokens, q);
    }
}
