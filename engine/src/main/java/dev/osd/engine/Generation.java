package dev.osd.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The growing token sequence of one request: its stop conditions, its random stream, its speculation
 * figures, and the two ways a round ends (a verified proposal, or a plain target step). Both
 * {@link SpeculativeDecoder} and the serving core's request actors drive it one round at a time; it knows no
 * caches and sees no logits (the target decides next to them, {@link TargetDecision}), and callers keep the
 * target's and the draft's caches in step with {@link #length()}.
 */
public final class Generation {

    private final GenerationRequest request;
    private final GenerationListener listener;
    private final SplittableRandom random;
    private final SpeculationStats stats = new SpeculationStats();
    private final int eosTokenId;
    private final int capacity;
    private final TextTokenizer tokenizer;
    private final long start = System.nanoTime();
    private final int promptLength;
    private final int[] tokens;
    private int length;
    private FinishReason finish;
    private long firstTokenNanos = -1;
    private int stopCut = -1;
    private long draftVersion = Long.MIN_VALUE;
    private final List<TokenLogprob> logprobs;
    private List<TokenLogprob> promptLogprobs;

    /**
     * @param eosTokenId the target's end-of-sequence token (-1: none)
     * @param capacity the target's context: generation ends when the sequence fills it
     * @param tokenizer for stop strings and the result's text; may be null
     */
    public Generation(GenerationRequest request, GenerationListener listener, int eosTokenId, int capacity,
            TextTokenizer tokenizer) {
        if (request.prompt().length >= capacity) {
            throw new IllegalArgumentException("prompt of " + request.prompt().length
                    + " tokens leaves no room in a context of " + capacity);
        }
        this.request = request.forModel(eosTokenId);
        this.listener = listener;
        this.random = new SplittableRandom(request.sampling().seed());
        this.eosTokenId = eosTokenId;
        this.capacity = capacity;
        this.tokenizer = tokenizer;
        this.promptLength = request.prompt().length;
        this.tokens = Arrays.copyOf(request.prompt(), promptLength + request.maxTokens() + 1);
        this.length = promptLength;
        this.logprobs = request.logprobs() >= 0 ? new ArrayList<>() : null;
    }

    public GenerationRequest request() {
        return request;
    }

    public SpeculationStats stats() {
        return stats;
    }

    /**
     * The next seed of the request's random stream (seeded by its sampling parameters): one per proposal and
     * one per target decision, so the draws of a round are the same wherever the round runs.
     */
    public long nextSeed() {
        return random.nextLong();
    }

    public int length() {
        return length;
    }

    public int generated() {
        return length - promptLength;
    }

    public boolean finished() {
        return finish != null;
    }

    /** Tokens from index {@code from} to the end. */
    public int[] tail(int from) {
        return Arrays.copyOfRange(tokens, from, length);
    }

    public int[] prefix(int n) {
        return Arrays.copyOf(tokens, n);
    }

    /**
     * The proposal length for the next round: the request's k, shortened near max_tokens and the end of the
     * context ({@code draftCapacity} is the draft cache's); 0 means a plain target step.
     */
    public int nextProposalLength(int draftCapacity) {
        int room = Math.min(capacity, draftCapacity) - length;
        return Math.max(0, Math.min(request.numDraftTokens(), Math.min(request.maxTokens() - generated() - 1,
                room - 1)));
    }

    /** Ends a plain round with the token the target sampled ({@code logprobs}: its entry when asked for, else null). */
    public void targetStep(int token, List<TokenLogprob> logprobs) {
        emit(new int[] {token}, logprobs);
    }

    /**
     * Ends a speculative round with the target's verification: counts it and appends what it emitted (as far
     * as the stop conditions let). The caller then rolls its caches back to {@code lengthBefore + accepted}.
     *
     * @param logprobs one entry per emitted token when the request asked for them, else null
     */
    public void verified(Verification v, List<TokenLogprob> logprobs) {
        stats.record(v);
        emit(v.emitted(), logprobs);
    }

    /** Notes the draft version of a proposal; true when it differs from the previous one (the cache is stale). */
    public boolean switchDraftVersion(long version) {
        if (version == draftVersion) {
            return false;
        }
        draftVersion = version;
        stats.recordDraftVersion(version);
        return true;
    }

    /**
     * Ends generation as it is, with {@link FinishReason#LENGTH}: the sequence cannot grow (the target's
     * key/value memory has no block for it), which to the client is the end of the context.
     */
    public void endForLength() {
        if (finish == null) {
            finish = FinishReason.LENGTH;
        }
    }

    /**
     * The prompt's log-probabilities the target computed (prompt token i + 1's at entry i), for a request that
     * asked for them; the result carries them.
     */
    public void promptLogprobs(List<TokenLogprob> entries) {
        if (!request.promptLogprobs()) {
            throw new IllegalStateException("the request did not ask for the prompt's log-probabilities");
        }
        if (entries.size() != promptLength - 1) {
            throw new IllegalArgumentException("a prompt of " + promptLength + " tokens has " + (promptLength - 1)
                    + " log-probabilities, got " + entries.size());
        }
        promptLogprobs = List.copyOf(entries);
    }

    /** The draft failed; the rest of the request is target-only. */
    public void draftFailed() {
        stats.recordDraftFailure();
    }

    /** Appends tokens one by one until a stop condition, then streams the kept ones ({@code entries[i]}: token i's). */
    private void emit(int[] emitted, List<TokenLogprob> entries) {
        int kept = 0;
        int firstLogprob = logprobs == null ? 0 : logprobs.size();
        for (int i = 0; i < emitted.length; i++) {
            int t = emitted[i];
            if (request.stopsAt(t, eosTokenId)) {
                finish = FinishReason.STOP;
                break;
            }
            tokens[length++] = t;
            kept++;
            if (logprobs != null) {
                if (entries == null || entries.size() <= i) {
                    throw new IllegalArgumentException("the request asked for log-probabilities; token " + i
                            + " of the round came without one");
                }
                logprobs.add(entries.get(i));
            }
            if (firstTokenNanos < 0) {
                firstTokenNanos = System.nanoTime() - start;
            }
            if (hitStopString()) {
                finish = FinishReason.STOP;
                break;
            }
            if (generated() >= request.maxTokens() || length >= capacity) {
                finish = FinishReason.LENGTH;
                break;
            }
        }
        if (kept > 0) {
            listener.onTokens(Arrays.copyOfRange(tokens, length - kept, length),
                    logprobs == null ? null : List.copyOf(logprobs.subList(firstLogprob, logprobs.size())));
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

    /** The result so far (complete once {@link #finished()}). */
    public GenerationResult result() {
        long totalNanos = System.nanoTime() - start;
        int[] out = Arrays.copyOfRange(tokens, promptLength, length);
        String text = null;
        if (tokenizer != null) {
            text = tokenizer.decode(out);
            if (stopCut >= 0) {
                text = text.substring(0, stopCut);
            }
        }
        return new GenerationResult(out, text, finish, stats, promptLength,
                firstTokenNanos < 0 ? totalNanos : firstTokenNanos, totalNanos,
                logprobs == null ? null : List.copyOf(logprobs), promptLogprobs);
    }
}
