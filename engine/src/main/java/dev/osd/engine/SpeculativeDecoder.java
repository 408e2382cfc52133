package dev.osd.engine;

import java.util.Arrays;
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

    public GenerationResult generate(GenerationRequest request) {
        return generate(request, GenerationListener.NONE);
    }

    public GenerationResult generate(GenerationRequest request, GenerationListener listener) {
        long start = System.nanoTime();
        int[] prompt = request.prompt();
        int capacity = targetPool.positions();
        if (prompt.length >= capacity) {
            throw new IllegalArgumentException("prompt of " + prompt.length + " tokens leaves no room in a context of "
                    + capacity);
        }
        Sequence seq = new Sequence(request, listener, start);
        try (KvCache targetCache = targetPool.acquire()) {
            KvCache draftCache = null;
            boolean speculate = draft != null && request.numDraftTokens() > 0;
            try {
                if (speculate) {
                    try {
                        draftCache = draftPool.acquire();
                    } catch (RuntimeException e) {
                        seq.stats.recordDraftFailure();
                        speculate = false;
                    }
                }
                if (prompt.length > 1) {
                    target.forward(targetCache, Arrays.copyOf(prompt, prompt.length - 1), 1);
                }
                while (!seq.finished()) {
                    int room = Math.min(capacity, draftCapacity(speculate)) - seq.length();
                    int k = Math.min(request.numDraftTokens(), Math.min(request.maxTokens() - seq.generated() - 1,
                            room - 1));
                    if (speculate && k > 0) {
                        try {
                            Proposal proposal = propose(draftCache, seq, k);
                            verifyRound(targetCache, draftCache, seq, proposal);
                            continue;
                        } catch (DraftFailure e) {
                            seq.stats.recordDraftFailure();
                            speculate = false;
                            draftCache.close();
                        }
                    }
                    targetStep(targetCache, seq);
                }
            } finally {
                if (draftCache != null) {
                    draftCache.close();
                }
            }
        }
        return seq.result(System.nanoTime() - start);
    }

    private int draftCapacity(boolean speculate) {
        return speculate ? draftPool.positions() : Integer.MAX_VALUE;
    }

    /** Target-only: one forward over the pending token, one sample. */
    private void targetStep(KvCache targetCache, Sequence seq) {
        float[] logits = target.forward(targetCache, seq.tail(targetCache.length()), 1)[0];
        seq.emit(new int[] {Sampler.next(logits, seq.request.sampling(), seq.random)});
    }

    private record Proposal(int[] tokens, double[][] q) {
    }

    /** Thrown when the draft model fails; the request continues target-only. */
    private static final class DraftFailure extends RuntimeException {
        DraftFailure(Throwable cause) {
            super(cause);
        }
    }

    private Proposal propose(KvCache draftCache, Sequence seq, int k) {
        try (DraftSource.Lease lease = draft.acquire()) {
            LlamaModel model = lease.model();
            if (!draftPool.config().equals(model.config())) {
                throw new IllegalStateException("draft version " + lease.number() + " has another shape than its pool");
            }
            if (lease.number() != seq.draftVersion) {
                // keys and values of another version: read the whole sequence again with these weights
                draftCache.truncate(0);
                seq.draftVersion = lease.number();
                seq.stats.recordDraftVersion(lease.number());
            }
            int[] tokens = new int[k];
            double[][] q = new double[k][];
            int[] feed = seq.tail(draftCache.length());
            for (int i = 0; i < k; i++) {
                float[] logits = model.forward(draftCache, feed, 1)[0];
                q[i] = Sampler.distribution(logits, seq.request.sampling());
                tokens[i] = seq.request.sampling().greedy() ? Sampler.argmax(logits) : Sampler.draw(q[i], seq.random);
                feed = new int[] {tokens[i]};
            }
            return new Proposal(tokens, q);
        } catch (RuntimeException e) {
            throw new DraftFailure(e);
        }
    }

    private void verifyRound(KvCache targetCache, KvCache draftCache, Sequence seq, Proposal proposal) {
        int k = proposal.tokens().length;
        int before = seq.length();
        int[] pending = seq.tail(targetCache.length());
        int[] input = Arrays.copyOf(pending, pending.length + k);
        System.arraycopy(proposal.tokens(), 0, input, pending.length, k);
        float[][] logits = target.forward(targetCache, input, k + 1);
        double[][] p = new double[k + 1][];
        for (int i = 0; i <= k; i++) {
            p[i] = Sampler.distribution(logits[i], seq.request.sampling());
        }
        Verification v = verifier.verify(proposal.tokens(), proposal.q(), p, seq.random);
        targetCache.truncate(before + v.accepted());
        draftCache.truncate(Math.min(draftCache.length(), before + v.accepted()));
        seq.stats.record(v);
        seq.listener.onRound(new SpeculationRound(seq.prefix(before), proposal.tokens(), proposal.q(), p, logits, v));
        seq.emit(v.emitted());
    }

    /** The growing token sequence of one request and its stop conditions. */
    private final class Sequence {
        final GenerationRequest request;
        final GenerationListener listener;
        final SplittableRandom random;
        final SpeculationStats stats = new SpeculationStats();
        final long start;
        long draftVersion = Long.MIN_VALUE;
        private int[] tokens;
        private int length;
        private final int promptLength;
        private FinishReason finish;
        private long firstTokenNanos = -1;
        private int stopCut = -1;

        Sequence(GenerationRequest request, GenerationListener listener, long start) {
            this.request = request;
            this.listener = listener;
            this.random = new SplittableRandom(request.sampling().seed());
            this.start = start;
            this.promptLength = request.prompt().length;
            this.tokens = Arrays.copyOf(request.prompt(), promptLength + request.maxTokens() + 1);
            this.length = promptLength;
        }

        int length() {
            return length;
        }

        int generated() {
            return length - promptLength;
        }

        boolean finished() {
            return finish != null;
        }

        int[] tail(int from) {
            return Arrays.copyOfRange(tokens, from, length);
        }

        int[] prefix(int n) {
            return Arrays.copyOf(tokens, n);
        }

        /** Appends tokens one by one until a stop condition, then streams the kept ones. */
        void emit(int[] emitted) {
            int kept = 0;
            for (int t : emitted) {
                if (!request.ignoreEos() && t == target.config().eosTokenId()) {
                    finish = FinishReason.STOP;
                    break;
                }
                tokens[length++] = t;
                kept++;
                if (firstTokenNanos < 0) {
                    firstTokenNanos = System.nanoTime() - start;
                }
                if (hitStopString()) {
                    finish = FinishReason.STOP;
                    break;
                }
                if (generated() >= request.maxTokens() || length >= targetPool.positions()) {
                    finish = FinishReason.LENGTH;
                    break;
                }
            }
            if (kept > 0) {
                listener.onTokens(Arrays.copyOfRange(tokens, length - kept, length));
            }
        }

        private boolean hitStopString() {
            if (request.stop().isEmpty() || tokenizer == null) {
                return false;
            }
            String text = tokenizer.decode(Arrays.copyOfRange(tokens, promptLength, length));
            int cut = -1;
            for (String s : request.stop()) {
                int at = text.indexOf(s);
                if (at >= 0 && (cut < 0 || at < cut)) {
                    cut = at;
                }
            }
            if (cut >= 0) {
                stopCut = cut;
                return true;
            }
            return false;
        }

        GenerationResult result(long totalNanos) {
            int[] out = Arrays.copyOfRange(tokens, promptLength, length);
            String text = null;
            if (tokenizer != null) {
                text = tokenizer.decode(out);
                if (stopCut >= 0) {
                    text = text.substring(0, stopCut);
                }
            }
            return new GenerationResult(out, text, finish, stats, promptLength,
                    firstTokenNanos < 0 ? totalNanos : firstTokenNanos, totalNanos);
        }
    }
}
