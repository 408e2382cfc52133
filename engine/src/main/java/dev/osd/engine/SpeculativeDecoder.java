package dev.osd.engine;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Generates one sequence with a target model and, optionally, a draft model: each round the draft proposes
 * k tokens (keeping its distributions q), the target scores the k+1 positions in one forward, and
 * {@link SpeculativeVerifier} decides what is emitted; both caches then roll back to the accepted prefix.
 * With no draft, or k = 0, it is plain target-only decoding through the same code. A draft that throws is
 * dropped for the rest of the request, which goes on target-only: the output never depends on the draft.
 *
 * <p>Cache discipline: between rounds the target cache holds every token but the last, whose logits the
 * next forward computes; the draft cache holds a prefix of the sequence and catches up by feeding the
 * missing tail in its first forward of the round.
 */
public final class SpeculativeDecoder {

    private final LlamaModel target;
    private final KvCachePool targetPool;
    private final DraftSource draft;
    private final KvCachePool draftPool;
    private final TextTokenizer tokenizer;
    private final SpeculativeVerifier verifier;
    private SuffixProposer suffix;
    private long generations;
    private int proposalTopN = Proposal.DEFAULT_TOP_N;

    /**
     * @param draft the draft model, or null for target-only decoding
     * @param draftPool its cache pool (null with no draft)
     * @param tokenizer used for stop strings and the result's text; may be null
     */
    public SpeculativeDecoder(LlamaModel target, KvCachePool targetPool, LlamaModel draft, KvCachePool draftPool,
            TextTokenizer tokenizer) {
        this(target, targetPool, draft == null ? null : DraftSource.fixed(draft), draftPool, tokenizer,
                SpeculativeVerifier.lossless());
    }

    /** Plain decoding with the target alone. */
    public static SpeculativeDecoder targetOnly(LlamaModel target, KvCachePool targetPool, TextTokenizer tokenizer) {
        return new SpeculativeDecoder(target, targetPool, (DraftSource) null, null, tokenizer,
                SpeculativeVerifier.lossless());
    }

    /**
     * A decoder whose draft may change version while a request runs (online distillation).
     *
     * @param draft where each proposal's draft comes from; every version must have {@code draftPool}'s shape
     */
    public SpeculativeDecoder(LlamaModel target, KvCachePool targetPool, DraftSource draft, KvCachePool draftPool,
            TextTokenizer tokenizer) {
        this(target, targetPool, draft, draftPool, tokenizer, SpeculativeVerifier.lossless());
    }

    SpeculativeDecoder(LlamaModel target, KvCachePool targetPool, DraftSource draft, KvCachePool draftPool,
            TextTokenizer tokenizer, SpeculativeVerifier verifier) {
        if (!targetPool.config().equals(target.config())) {
            throw new IllegalArgumentException("target cache pool belongs to a model of another shape");
        }
        if (draft != null) {
            if (draftPool == null) {
                throw new IllegalArgumentException("draft needs a cache pool of its own");
            }
            if (draftPool.config().vocabSize() != target.config().vocabSize()) {
                throw new IllegalArgumentException("draft vocabulary " + draftPool.config().vocabSize()
                        + " differs from the target's " + target.config().vocabSize()
                        + ": a draft must share the target's tokenizer");
            }
        }
        this.target = target;
        this.targetPool = targetPool;
        this.draft = draft;
        this.draftPool = draftPool;
        this.tokenizer = tokenizer;
        this.verifier = verifier;
    }

    /**
     * Rounds are planned by {@code proposer} (the suffix match, the draft, or both), which learns from every
     * sequence this decoder finishes; null: the draft alone.
     */
    public SpeculativeDecoder withSuffix(SuffixProposer proposer) {
        this.suffix = proposer;
        return this;
    }

    /**
     * How many tokens of each draft row a proposal keeps (its top N, renormalised, drawn from): what the serving
     * path sends; 0 keeps every token. Returns this decoder.
     */
    public SpeculativeDecoder withProposalTopN(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("proposal top-n must be >= 0 (0: all), was " + n);
        }
        this.proposalTopN = n;
        return this;
    }

    public GenerationResult generate(GenerationRequest request) {
        return generate(request, GenerationListener.NONE);
    }

    public GenerationResult generate(GenerationRequest request, GenerationListener listener) {
        Generation seq = new Generation(request, listener, target.config().eosTokenId(), targetPool.positions(),
                tokenizer);
        String id = "g" + generations++;
        int[] prompt = request.prompt();
        try (KvCache targetCache = targetPool.acquire()) {
            KvCache draftCache = null;
            boolean speculate = draft != null && request.numDraftTokens() > 0;
            try {
                if (speculate) {
                    try {
                        draftCache = draftPool.acquire();
                    } catch (RuntimeException e) {
                        seq.draftFailed();
                        speculate = false;
                    }
                }
                if (prompt.length > 1) {
                    // echo's prompt logprobs need every prefilled position's row, else only the last is computed
                    float[][] rows = target.forward(targetCache, Arrays.copyOf(prompt, prompt.length - 1),
                            request.promptLogprobs() ? prompt.length - 1 : 1);
                    if (request.promptLogprobs()) {
                        List<TokenLogprob> entries = TokenLogprob.promptLogprobs(rows, prompt, request.logprobs());
                        seq.promptLogprobs(entries.subList(1, entries.size()));
                    }
                } else if (request.promptLogprobs()) {
                    seq.promptLogprobs(List.of());
                }
                while (!seq.finished()) {
                    int k = speculate ? seq.nextProposalLength(draftPool.positions()) : 0;
                    if (k > 0) {
                        try {
                            if (suffix != null) {
                                suffixRound(targetCache, draftCache, seq, k, id, listener);
                                continue;
                            }
                            Proposal proposal = propose(draftCache, seq, k);
                            verifyRound(targetCache, draftCache, seq, proposal, listener);
                            continue;
                        } catch (DraftFailure e) {
                            seq.draftFailed();
                            speculate = false;
                            draftCache.close();
                        }
                    }
                    float[] logits = target.forward(targetCache, seq.tail(targetCache.length()), 1)[0];
                    TargetDecision d = TargetDecision.step(logits, seq.request().sampling(),
                            new SplittableRandom(seq.nextSeed()), seq.prefix(seq.length()), seq.length(),
                            request.logprobs());
                    seq.targetStep(d.tokens()[0], d.logprobs());
                }
            } finally {
                if (draftCache != null) {
                    draftCache.close();
                }
                if (suffix != null) {
                    suffix.finish(id, seq.prefix(seq.length()));
                }
            }
        }
        return seq.result();
    }

    /** Thrown when the draft model fails; the request continues target-only. */
    private static final class DraftFailure extends RuntimeException {
        DraftFailure(Throwable cause) {
            super(cause);
        }
    }

    private Proposal propose(KvCache draftCache, Generation seq, int k) {
        try (DraftSource.Lease lease = draft.acquire()) {
            LlamaModel model = lease.model();
            if (!draftPool.config().equals(model.config())) {
                throw new IllegalStateException("draft version " + lease.version() + " has another shape than its pool");
            }
            if (seq.switchDraftVersion(lease.version())) {
                // keys and values of another version: read the whole sequence again with these weights
                draftCache.truncate(0);
            }
            return Proposal.draw(model, draftCache, seq.tail(draftCache.length()), seq.prefix(seq.length()), k,
                    seq.request().sampling(), proposalTopN, new SplittableRandom(seq.nextSeed()));
        } catch (RuntimeException e) {
            throw new DraftFailure(e);
        }
    }

    /** One round as the suffix proposer plans it: its one-hot tokens, the draft's after them, or the draft's alone. */
    private void suffixRound(KvCache targetCache, KvCache draftCache, Generation seq, int k, String id,
            GenerationListener listener) {
        int room = SuffixProposer.room(seq, Math.min(targetPool.positions(), draftPool.positions()));
        SuffixProposer.Choice c = suffix.next(id, seq.prefix(seq.length()), k, room, System.nanoTime());
        int[] tokens = c.suffix();
        SparseDistribution[] q = SuffixProposer.oneHot(tokens);
        int[] drafted = new int[0];
        long start = System.nanoTime();
        if (c.draftTokens() > 0) {
            Proposal d = proposeAfter(draftCache, seq, tokens, c.draftTokens());
            drafted = d.tokens();
            tokens = Arrays.copyOf(tokens, tokens.length + drafted.length);
            System.arraycopy(drafted, 0, tokens, c.suffix().length, drafted.length);
            q = Arrays.copyOf(q, tokens.length);
            System.arraycopy(d.q(), 0, q, c.suffix().length, drafted.length);
        }
        suffix.proposed(id, drafted, System.nanoTime() - start, c.draftTokens(), System.nanoTime());
        Proposal proposal = new Proposal(tokens, q);
        int before = seq.stats().acceptedTokens();
        verifyRound(targetCache, draftCache, seq, proposal, listener);
        seq.stats().recordProposer(c.kind().label(), tokens.length, seq.stats().acceptedTokens() - before);
    }

    /** The draft's k tokens after the sequence and {@code given} (one-hot tokens already proposed). */
    private Proposal proposeAfter(KvCache draftCache, Generation seq, int[] given, int k) {
        try (DraftSource.Lease lease = draft.acquire()) {
            LlamaModel model = lease.model();
            if (seq.switchDraftVersion(lease.version())) {
                draftCache.truncate(0);
            }
            int[] tail = seq.tail(draftCache.length());
            int[] feed = Arrays.copyOf(tail, tail.length + given.length);
            System.arraycopy(given, 0, feed, tail.length, given.length);
            if (feed.length == 0) {
                // the cache holds the whole sequence: step back one token to get logits for the next
                draftCache.truncate(draftCache.length() - 1);
                feed = seq.tail(draftCache.length());
            }
            // the shaping's history and the seeded draws' positions run on past the given tokens
            int[] sequence = Arrays.copyOf(seq.prefix(seq.length()), seq.length() + given.length);
            System.arraycopy(given, 0, sequence, seq.length(), given.length);
            return Proposal.draw(model, draftCache, feed, sequence, k, seq.request().sampling(), proposalTopN,
                    new SplittableRandom(seq.nextSeed()));
        } catch (RuntimeException e) {
            throw new DraftFailure(e);
        }
    }

    private void verifyRound(KvCache targetCache, KvCache draftCache, Generation seq, Proposal proposal,
            GenerationListener listener) {
        int k = proposal.tokens().length;
        int before = seq.length();
        int[] pending = seq.tail(targetCache.length());
        int[] input = Arrays.copyOf(pending, pending.length + k);
        System.arraycopy(proposal.tokens(), 0, input, pending.length, k);
        float[][] logits = target.forward(targetCache, input, k + 1);
        GenerationRequest request = seq.request();
        TargetDecision d = TargetDecision.verify(logits, proposal.tokens(), proposal.q(), request.sampling(),
                new SplittableRandom(seq.nextSeed()), seq.prefix(before), before, request.logprobs(), verifier);
        Verification v = d.verification();
        listener.onRound(new SpeculationRound(seq.prefix(before), proposal.tokens(), proposal.q(), d.p(), logits, v));
        seq.verified(v, d.logprobs());
        targetCache.truncate(before + v.accepted());
        draftCache.truncate(Math.min(draftCache.length(), before + v.accepted()));
    }
}
