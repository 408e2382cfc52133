package dev.osd.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * k draft tokens and the distributions q they were drawn from: per position the draft's shaped distribution
 * (the request's sampling parameters, as verification uses them) cut to its top N and renormalised. The
 * tokens are drawn from exactly these sparse rows, so they are what verification must use.
 */
public record Proposal(int[] tokens, SparseDistribution[] q) {

    /** How many tokens of each proposal row travel when nothing configures it ({@code osd.draft.proposal-top-n}). */
    public static final int DEFAULT_TOP_N = 64;

    /**
     * {@link #draw(LlamaModel, KvCache, int[], int[], int, SamplingParams, int, SplittableRandom)} where the cache
     * is empty (the feed is the whole sequence), or where no history is needed (no logits shaping, not seeded).
     */
    public static Proposal draw(LlamaModel draft, KvCache cache, int[] feed, int k, SamplingParams sampling,
            int topN, SplittableRandom random) {
        return draw(draft, cache, feed, sequenceOf(cache, feed, sampling), k, sampling, topN, random);
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
     * over each drawn token; each token comes from its sparse row ({@link #next}).
     *
     * @param sequence the whole sequence so far (the shaping's history; the cache plus the feed)
     */
    public static Proposal draw(LlamaModel draft, KvCache cache, int[] feed, int[] sequence, int k,
            SamplingParams sampling, int topN, SplittableRandom random) {
        int[] tokens = new int[k];
        SparseDistribution[] q = new SparseDistribution[k];
        int[] history = Arrays.copyOf(sequence, sequence.length + k);
        for (int i = 0; i < k; i++) {
            float[] logits = draft.forward(cache, feed, 1)[0];
            int position = sequence.length + i;
            q[i] = row(logits, sampling, history, position, topN);
            tokens[i] = next(q[i], sampling, random, position);
            history[position] = tokens[i];
            feed = new int[] {tokens[i]};
        }
        return new Proposal(tokens, q);
    }

    /** The proposal distribution of one position without logits shaping: its top N, renormalised. */
    public static SparseDistribution row(float[] logits, SamplingParams sampling, int topN) {
        return SparseDistribution.topN(Sampler.distribution(logits, sampling), topN);
    }

    /**
     * The proposal distribution of the token at position {@code length} after {@code history[0, length)}: the
     * distribution shaped over that history ({@link Sampler#distribution(float[], SamplingParams, int[], int)},
     * as the target shapes p), cut to its top N and renormalised.
     */
    public static SparseDistribution row(float[] logits, SamplingParams sampling, int[] history, int length,
            int topN) {
        return SparseDistribution.topN(Sampler.distribution(logits, sampling, history, length), topN);
    }

    /**
     * The token proposed at {@code position} from its sparse row itself: the one-hot row's token when greedy,
     * the {@link CounterNoise} choice over the row when seeded (the target's seeded verifier chooses with the
     * same noise), else a draw from the row.
     */
    public static int next(SparseDistribution q, SamplingParams sampling, SplittableRandom random, int position) {
        if (sampling.greedy()) {
            return q.ids()[0];
        }
        return sampling.seeded() ? CounterNoise.choose(q, sampling.seed(), position) : q.draw(random);
    }
}
