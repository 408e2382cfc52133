package dev.osd.actors;

import com.typesafe.config.Config;
import dev.osd.distillation.DistillationRecord;
import dev.osd.distillation.RecordPolicy;
import dev.osd.distillation.TrainerSettings;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SparseDistribution;
import dev.osd.engine.SpeculativeVerifier;
import dev.osd.engine.TargetDecision;
import dev.osd.engine.TokenLogprob;
import dev.osd.engine.Verification;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The verifier: owns the target model and one KV cache per open request, and scores the work of many
 * requests in one batched forward (continuous batching). Right after the forward, per sequence, it decides
 * next to the logits, with p shaped over the tokens it holds for the request (logits shaping): a plain step's
 * token, or a proposal's verification (lossless rejection sampling against the sparse q the proposal was drawn
 * from, {@link SpeculativeVerifier}; a seeded request's by counter noise, {@code SeededVerifier}); it answers with the emitted tokens,
 * and with their log-probabilities only when the request asked for them, and sends the round's distillation
 * record (the target's top N) to the draft's trainer itself. No logits row leaves the actor. Work that arrives while a forward runs waits in the
 * mailbox; after each forward the actor takes everything queued, up to a bounded batch, into the next one, so
 * the batch grows with load and a lone request never waits for company. A request's cache is released when
 * it closes or when its actor stops. On start, on its own dispatcher, the actor warms the model up
 * ({@code osd.serving.warm-up-tokens}) and only then registers with the Receptionist, which is what readiness
 * counts: a node reports ready with a target whose first request runs as fast as the thousandth.
 */
public final class TargetActor extends AbstractBehavior<TargetActor.Command> {

    private static final Logger LOG = LoggerFactory.getLogger(TargetActor.class);

    public sealed interface Command {
    }

    /**
     * Opens a cache for a request; {@code owner} is watched, and its end releases the cache.
     *
     * @param trainer the trainer of the request's draft, which gets each verified round's distillation record
     *     from here; null: none
     */
    public record Open(String requestId, ActorRef<?> owner, ActorRef<Opened> replyTo,
            ActorRef<TrainerActor.Command> trainer) implements Command, CrossNode {
        public Open(String requestId, ActorRef<?> owner, ActorRef<Opened> replyTo) {
            this(requestId, owner, replyTo, null);
        }
    }

    /** The answer to {@link Open}: refused when every cache slot is in use (overload). */
    public record Opened(String requestId, boolean accepted, String problem) implements CrossNode {
    }

    /**
     * Rolls the request's cache back to {@code keep} positions, feeds {@code tokens} and decides what they make:
     * a prefill (no sampling: nothing to decide, the answer has no token), a plain step (no q: one token sampled
     * from the last position), or the verification of the last {@code q.length} tokens, the proposal, drawn from
     * {@code q} (the pending token and the proposal, k + 1 positions scored).
     *
     * @param q the draft's sparse distribution at each proposed position, exactly what it drew from; empty or
     *     null for a plain step
     * @param sampling the request's sampling parameters, or null for a prefill
     * @param seed the round's draws (the request's random stream decides it)
     * @param logprobs -1: none; n >= 0: each emitted token's log-probability with its n most likely alternatives
     *     (a prefill: each fed position's log-probability of the token that follows it, for echo)
     * @param next a prefill with {@code logprobs >= 0}: the token after {@code tokens}, which the last fed
     *     position's entry is of (the others are of {@code tokens[1..]}); else -1
     */
    public record Score(String requestId, int keep, int[] tokens, SparseDistribution[] q, SamplingParams sampling,
            long seed, int logprobs, ActorRef<Scored> replyTo, int next) implements Command, CrossNode {

        public Score(String requestId, int keep, int[] tokens, SparseDistribution[] q, SamplingParams sampling,
                long seed, int logprobs, ActorRef<Scored> replyTo) {
            this(requestId, keep, tokens, q, sampling, seed, logprobs, replyTo, -1);
        }

        /** Feeds a prompt (all but its last token); answered with no token. */
        public static Score prefill(String requestId, int keep, int[] tokens, ActorRef<Scored> replyTo) {
            return new Score(requestId, keep, tokens, null, null, 0, -1, replyTo);
        }

        /**
         * Feeds part of a prompt, {@code tokens} then followed by {@code next}, and answers with no token but,
         * per fed position, the log-probability of the prompt token that follows it and its {@code top} most
         * likely alternatives (echo's prompt logprobs; computed here, next to the logits). The answer grows with
         * {@code tokens}, so a caller sends a long prompt in parts.
         */
        public static Score prefillWithLogprobs(String requestId, int keep, int[] tokens, int next, int top,
                ActorRef<Scored> replyTo) {
            return new Score(requestId, keep, tokens, null, null, 0, top, replyTo, next);
        }

        /** Whether this is a prefill that asks for the prompt's log-probabilities. */
        boolean promptLogprobs() {
            return sampling == null && logprobs >= 0;
        }

        /** A plain decoding step: one token sampled after {@code tokens}. */
        public static Score step(String requestId, int keep, int[] tokens, SamplingParams sampling, long seed,
                int logprobs, ActorRef<Scored> replyTo) {
            return new Score(requestId, keep, tokens, null, sampling, seed, logprobs, replyTo);
        }

        /** Proposed tokens (the last q.length of {@code tokens}) to verify. */
        public int k() {
            return q == null ? 0 : q.length;
        }

        /** Positions whose logits the decision needs. */
        int keepLast() {
            return promptLogprobs() ? tokens.length : sampling == null ? 1 : k() + 1;
        }
    }

    /**
     * What the target decided for a {@link Score}, or the problem that prevented it.
     *
     * @param tokens the tokens the round emits (a step: one; a verification: the accepted proposals and the
     *     correction or bonus token; a prefill: none); null with a problem
     * @param verification a proposal's verification (per-position acceptance, expected acceptance), else null
     * @param logprobs per emitted token when the request asked for them (a prefill with logprobs: per fed
     *     position, the next prompt token's), else null
     * @param cacheFull set when the problem is that the key/value memory has too few free blocks for the
     *     work (then the request is refused as overloaded when this was its prompt, or ends as it is, with
     *     finish_reason "length", when it was growing); null otherwise
     */
    public record Scored(String requestId, int[] tokens, Verification verification, List<TokenLogprob> logprobs,
            String problem, CacheFull cacheFull) implements CrossNode {

        static Scored failed(String requestId, String problem) {
            return new Scored(requestId, null, null, null, problem, null);
        }
    }

    /**
     * Why work did not fit the key/value memory.
     *
     * @param prompt whether the work was the request's first (its prompt), not the growth of a running one
     * @param needed blocks the work needed
     * @param free blocks free when it came
     * @param total blocks of the whole memory
     */
    public record CacheFull(boolean prompt, int needed, int free, int total) implements CrossNode {
    }

    /** Configuration keys of the target's key/value memory. */
    public static final String KV_CACHE_MEMORY = "osd.target.kv-cache-memory";
    public static final String MAX_CONTEXT = "osd.target.max-context";

    public record Close(String requestId) implements Command, CrossNode {
    }

    /** Batching figures so far. */
    public record GetStats(ActorRef<Stats> replyTo) implements Command, CrossNode {
    }

    /**
     * @param forwards target forwards run
     * @param scored sequences scored (each in some forward)
     * @param largestBatch most sequences in one forward
     * @param openCaches requests holding a cache now
     * @param warmUpPositions positions the warm-up ran before the actor took work (0: none)
     */
    public record Stats(long forwards, long scored, int largestBatch, int openCaches, int slots, int warmUpPositions,
            int usedBlocks, int totalBlocks) implements CrossNode {
        public Stats(long forwards, long scored, int largestBatch, int openCaches, int slots, int warmUpPositions) {
            this(forwards, scored, largestBatch, openCaches, slots, warmUpPositions, 0, 0);
        }

        /** Mean share of the batch bound that forwards filled. */
        public double meanBatch() {
            return forwards == 0 ? 0 : (double) scored / forwards;
        }
    }

    private enum Flush implements Command, LocalOnly {
        INSTANCE
    }

    private record OwnerGone(ActorRef<?> owner) implements Command, LocalOnly {
    }

    /**
     * One open request: its cache, the tokens it holds (the sequence the verification and a distillation record
     * see: the cached positions and the work being scored), and its draft's trainer.
     */
    private static final class Held {
        final KvCache cache;
        final ActorRef<TrainerActor.Command> trainer;
        int[] tokens = new int[64];
        int length;

        Held(KvCache cache, ActorRef<TrainerActor.Command> trainer) {
            this.cache = cache;
            this.trainer = trainer;
        }

        void feed(int keep, int[] fed) {
            length = keep;
            if (length + fed.length > tokens.length) {
                tokens = Arrays.copyOf(tokens, Math.max(2 * tokens.length, length + fed.length));
            }
            System.arraycopy(fed, 0, tokens, length, fed.length);
            length += fed.length;
        }
    }

    /** Configuration key: how many of the target's probabilities a distillation record keeps per position. */
    public static final String RECORD_TOP_N = "osd.target.record-top-n";

    private final LlamaModel target;
    private final KvCachePool pool;
    private final int maxBatch;
    private final Map<String, Held> caches = new HashMap<>();
    private final SpeculativeVerifier verifier = SpeculativeVerifier.lossless();
    private final int recordTopN;
    // where records are built: the default dispatcher, never the target's own thread
    private final Executor records;
    private final Map<ActorRef<?>, List<String>> requestsByOwner = new HashMap<>();
    private final Deque<Score> queue = new ArrayDeque<>();
    private boolean flushPending;
    private long flushRequestedAt;
    // when each request's last answer went out, and how long its requests usually take to come back (µs, EWMA)
    private final Map<String, Long> answeredAt = new HashMap<>();
    private final Map<String, Double> returnMicros = new HashMap<>();
    private long forwards;
    private long scored;
    private int largestBatch;
    private final int warmUpPositions;
    private final boolean warmedUp;

    /** A target that nobody finds through the Receptionist (tests, and callers that hand its ref around). */
    public static Behavior<Command> create(LlamaModel target, int slots, int maxBatch) {
        return create(target, slots, maxBatch, null);
    }

    /** @param registerAs the key the actor registers under once warmed up, or null */
    public static Behavior<Command> create(LlamaModel target, int slots, int maxBatch, ServiceKey<Command> registerAs) {
        return create(target, slots, maxBatch, registerAs, null);
    }

    /** @param onPool told of the target's key/value memory once it exists (metrics read its blocks), or null */
    public static Behavior<Command> create(LlamaModel target, int slots, int maxBatch, ServiceKey<Command> registerAs,
            Consumer<KvCachePool> onPool) {
        return Behaviors.setup(ctx -> {
            TargetActor actor = new TargetActor(ctx, target, slots, maxBatch);
            if (onPool != null) {
                onPool.accept(actor.pool);
            }
            if (registerAs != null && actor.warmedUp) {
                ctx.getSystem().receptionist().tell(Receptionist.register(registerAs, ctx.getSelf()));
            }
            return actor;
        });
    }

    private TargetActor(ActorContext<Command> ctx, LlamaModel target, int slots, int maxBatch) {
        super(ctx);
        this.target = target;
        Config config = ctx.getSystem().settings().config();
        this.pool = target.newCachePool(slots, maxContext(config, target.config()), config.getBytes(KV_CACHE_MEMORY));
        ctx.getLog().info("target key/value memory: {} blocks of {} positions ({} MiB), at most {} positions a "
                + "request", pool.totalBlocks(), KvCachePool.BLOCK,
                pool.totalBlocks() * KvCachePool.blockBytes(target.config()) >> 20, pool.positions());
        this.maxBatch = maxBatch;
        this.recordTopN = recordTopN(config, target.config().vocabSize());
        this.records = ctx.getSystem().executionContext();
        int tokens = WarmUp.tokens(ctx.getSystem().settings().config());
        long start = System.nanoTime();
        int warmed = 0;
        boolean ok = true;
        if (tokens > 0) {
            try {
                warmed = WarmUp.run(target, pool, tokens);
                ctx.getLog().info("target warmed up: {} positions in {} ms", warmed,
                        (System.nanoTime() - start) / 1_000_000);
            } catch (RuntimeException e) {
                // not listed, so readiness says there is no target; work sent to it answers with the problem
                ctx.getLog().error("target warm-up failed, the target stays unlisted", e);
                ok = false;
            }
        }
        this.warmUpPositions = warmed;
        this.warmedUp = ok;
    }

    /**
     * The most positions one request may hold on a target of this shape: {@code osd.target.max-context} (0:
     * the model's max_position_embeddings), clipped to what {@code osd.target.kv-cache-memory} holds. The
     * gateway gives requests this as their context, so they end with "length" where the target's cache ends.
     */
    public static int contextLimit(Config config, LlamaConfig model) {
        int context = maxContext(config, model);
        long blocks = config.getBytes(KV_CACHE_MEMORY) / KvCachePool.blockBytes(model);
        return (int) Math.max(1, Math.min(context, blocks * KvCachePool.BLOCK));
    }

    /**
     * {@code osd.target.record-top-n}: "auto" keeps what the trainers' defaults keep (the whole distribution for
     * a vocabulary of at most 4,096 tokens, else the top 64 and the rest mass), a number keeps that many (0: all).
     */
    static int recordTopN(Config config, int vocab) {
        String v = config.getString(RECORD_TOP_N).trim();
        if (v.equals("auto")) {
            return TrainerSettings.defaults(vocab).topN();
        }
        try {
            int n = Integer.parseInt(v);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // refused below with the key's name
        }
        throw new IllegalArgumentException(RECORD_TOP_N + " must be auto or a number >= 0 (0: all), was '" + v + "'");
    }

    private static int maxContext(Config config, LlamaConfig model) {
        int configured = config.getInt(MAX_CONTEXT);
        if (configured < 0) {
            throw new IllegalArgumentException(MAX_CONTEXT + " must be 0 (the model's) or a number of positions, was "
                    + configured);
        }
        return configured == 0 ? model.maxPositionEmbeddings() : Math.min(configured, model.maxPositionEmbeddings());
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Open.class, this::onOpen)
                .onMessage(Score.class, this::onScore)
                .onMessageEquals(Flush.INSTANCE, this::onFlush)
                .onMessage(Close.class, c -> release(c.requestId()))
                .onMessage(OwnerGone.class, this::onOwnerGone)
                .onMessage(GetStats.class, g -> {
                    g.replyTo().tell(new Stats(forwards, scored, largestBatch, caches.size(), pool.slots(),
                            warmUpPositions, pool.usedBlocks(), pool.totalBlocks()));
                    return this;
                })
                .onSignal(PostStop.class, s -> {
                    pool.close();
                    return this;
                })
                .build();
    }

    private Behavior<Command> onOpen(Open open) {
        if (caches.containsKey(open.requestId())) {
            open.replyTo().tell(new Opened(open.requestId(), false, "request " + open.requestId() + " is already open"));
            return this;
        }
        if (pool.freeSlots() == 0) {
            open.replyTo().tell(new Opened(open.requestId(), false, "all " + pool.slots()
                    + " target caches are in use"));
            return this;
        }
        caches.put(open.requestId(), new Held(pool.acquire(), open.trainer()));
        List<String> owned = requestsByOwner.computeIfAbsent(open.owner(), o -> {
            getContext().watchWith(o, new OwnerGone(o));
            return new ArrayList<>();
        });
        owned.add(open.requestId());
        open.replyTo().tell(new Opened(open.requestId(), true, null));
        return this;
    }

    /**
     * A request whose next work usually comes back within this long after its answer (target-only decoding does,
     * in tens of µs; a request that first asks its draft does not) is waited for, up to {@link #MAX_WAIT_NANOS}
     * after the first queued work, so that its step joins the batch instead of running alone in the next forward.
     */
    static final double QUICK_RETURN_MICROS = 400;
    static final long MAX_WAIT_NANOS = 600_000;

    private Behavior<Command> onScore(Score score) {
        Long answered = answeredAt.remove(score.requestId());
        if (answered != null) {
            double micros = (System.nanoTime() - answered) / 1e3;
            returnMicros.merge(score.requestId(), micros, (old, now) -> 0.7 * old + 0.3 * now);
        }
        queue.add(score);
        if (!flushPending) {
            // behind whatever is already in the mailbox: all of it joins this batch
            flushPending = true;
            flushRequestedAt = System.nanoTime();
            getContext().getSelf().tell(Flush.INSTANCE);
        }
        return this;
    }

    /** Whether a request that usually comes back at once is still on its way (worth a moment's wait). */
    private boolean quickReturnPending() {
        if (queue.size() >= maxBatch || System.nanoTime() - flushRequestedAt > MAX_WAIT_NANOS) {
            return false;
        }
        for (String id : answeredAt.keySet()) {
            Double usual = returnMicros.get(id);
            if (usual != null && usual < QUICK_RETURN_MICROS) {
                return true;
            }
        }
        return false;
    }

    /**
     * Work of at most this many new tokens (a decode step, a verification of k + 1) batches together; longer work
     * (a prefill) batches only with other long work. A batched forward pads every sequence to the longest, so one
     * prefill in a batch of decode steps would make each of them pay for the prompt's length.
     */
    static final int SHORT_WORK = 16;

    /**
     * Takes the next forward's work from the queue: the oldest work decides the kind (short or a prefill), and
     * up to {@code maxBatch} of that kind go, in order; the other kind keeps its place for the next forward.
     */
    static List<Score> nextBatch(Deque<Score> queue, int maxBatch) {
        List<Score> batch = new ArrayList<>();
        if (queue.isEmpty()) {
            return batch;
        }
        boolean shortWork = queue.peek().tokens().length <= SHORT_WORK;
        Iterator<Score> it = queue.iterator();
        while (it.hasNext() && batch.size() < maxBatch) {
            Score s = it.next();
            if ((s.tokens().length <= SHORT_WORK) == shortWork) {
                it.remove();
                batch.add(s);
            }
        }
        return batch;
    }

    private Behavior<Command> onFlush() {
        if (quickReturnPending()) {
            // yield: whatever arrives meanwhile is queued ahead of the next Flush
            getContext().getSelf().tell(Flush.INSTANCE);
            return this;
        }
        flushPending = false;
        List<Score> batch = new ArrayList<>();
        List<Held> held = new ArrayList<>();
        List<KvCache> batchCaches = new ArrayList<>();
        List<int[]> tokens = new ArrayList<>();
        int taking = 0; // blocks the sequences already in this batch will take
        for (Score s : nextBatch(queue, maxBatch)) {
            Held h = caches.get(s.requestId());
            KvCache cache = h == null ? null : h.cache;
            String problem = problem(s, cache);
            if (problem != null) {
                s.replyTo().tell(Scored.failed(s.requestId(), problem));
                continue;
            }
            cache.truncate(s.keep());
            int needed = pool.blocksToGrow(cache, s.keep() + s.tokens().length);
            int free = pool.freeBlocks() - taking;
            if (needed > free) {
                // admission by free blocks: the work is answered at once, the forward goes on without it
                boolean prompt = s.keep() == 0;
                CacheFull full = new CacheFull(prompt, needed, free, pool.totalBlocks());
                String why = "the target's key/value memory has " + free + " of " + pool.totalBlocks()
                        + " blocks free, " + (prompt ? "the prompt of " + s.tokens().length + " tokens needs "
                        : "growing to " + (s.keep() + s.tokens().length) + " positions needs ") + needed;
                getContext().getLog().info("request {}: {}", s.requestId(), why);
                s.replyTo().tell(new Scored(s.requestId(), null, null, null, why, full));
                continue;
            }
            taking += needed;
            h.feed(s.keep(), s.tokens());
            batch.add(s);
            held.add(h);
            batchCaches.add(cache);
            tokens.add(s.tokens());
        }
        if (!batch.isEmpty()) {
            int[] keepLast = batch.stream().mapToInt(Score::keepLast).toArray();
            List<float[][]> logits;
            try {
                logits = target.forward(batchCaches, tokens, keepLast);
            } catch (RuntimeException e) {
                getContext().getLog().error("target forward of {} sequences failed", batch.size(), e);
                for (Score s : batch) {
                    s.replyTo().tell(Scored.failed(s.requestId(), "target forward failed: " + e.getMessage()));
                }
                return this;
            }
            forwards++;
            scored += batch.size();
            largestBatch = Math.max(largestBatch, batch.size());
            // each sequence decided on its own rows, as it would be alone: batching changes no outcome
            for (int i = 0; i < batch.size(); i++) {
                Score s = batch.get(i);
                if (s.promptLogprobs()) {
                    answerPromptLogprobs(s, logits.get(i));
                } else {
                    s.replyTo().tell(decide(s, held.get(i), logits.get(i)));
                }
                answeredAt.put(s.requestId(), System.nanoTime());
            }
        }
        if (!queue.isEmpty() && !flushPending) {
            flushPending = true;
            flushRequestedAt = System.nanoTime();
            getContext().getSelf().tell(Flush.INSTANCE);
        }
        return this;
    }

    /** The decision for one scored sequence, next to its logits; a verified round's record goes to the trainer. */
    private Scored decide(Score s, Held h, float[][] rows) {
        if (s.sampling() == null) {
            return new Scored(s.requestId(), new int[0], null, null, null, null);
        }
        SplittableRandom random = new SplittableRandom(s.seed());
        int k = s.k();
        TargetDecision d;
        try {
            if (k == 0) {
                // the next token's position is the sequence's length: shaped over all of it
                d = TargetDecision.step(rows[0], s.sampling(), random, h.tokens, h.length, s.logprobs());
            } else {
                int[] proposal = Arrays.copyOfRange(s.tokens(), s.tokens().length - k, s.tokens().length);
                // row i shaped over the sequence before the proposal and its first i tokens
                d = TargetDecision.verify(rows, proposal, s.q(), s.sampling(), random, h.tokens, h.length - k,
                        s.logprobs(), verifier);
                teach(h, proposal, d.verification().accepted(), rows);
            }
        } catch (RuntimeException e) {
            getContext().getLog().warn("request {}: verification failed: {}", s.requestId(), e.toString());
            return Scored.failed(s.requestId(), "verification failed: " + e.getMessage());
        }
        return new Scored(s.requestId(), d.tokens(), d.verification(), d.logprobs(), null, null);
    }

    /**
     * A prefill's answer with each fed position's log-probability of the prompt token after it. The softmax and
     * top N over the vocabulary per row run beside the actor, as a record's do; only the entries travel.
     */
    private void answerPromptLogprobs(Score s, float[][] rows) {
        CompletableFuture.supplyAsync(() -> {
            List<TokenLogprob> entries = new ArrayList<>(rows.length);
            for (int i = 0; i < rows.length; i++) {
                int following = i + 1 < s.tokens().length ? s.tokens()[i + 1] : s.next();
                entries.add(TokenLogprob.of(rows[i], following, s.logprobs()));
            }
            return new Scored(s.requestId(), new int[0], null, List.copyOf(entries), null, null);
        }, records).exceptionally(e -> Scored.failed(s.requestId(), "prompt log-probabilities failed: " + e))
                .thenAccept(s.replyTo()::tell);
    }

    /**
     * Sends the round's record (every verified position, the target's top N) to the draft's trainer, if any.
     * The softmax and top N over the vocabulary run beside the actor, not on the target's one thread (a forward
     * waits for nothing but the verification); the rows never leave this JVM.
     */
    private void teach(Held h, int[] proposal, int accepted, float[][] rows) {
        if (h.trainer == null) {
            return;
        }
        int[] context = Arrays.copyOf(h.tokens, h.length - proposal.length);
        float[][] kept = new float[accepted + 1][];
        for (int i = 0; i <= accepted; i++) {
            kept[i] = rows[i].clone();
        }
        ActorRef<TrainerActor.Command> trainer = h.trainer;
        CompletableFuture.runAsync(() -> trainer.tell(new TrainerActor.Learn(DistillationRecord.of(context, proposal,
                accepted, kept, RecordPolicy.ALL_VERIFIED, recordTopN))), records)
                .exceptionally(e -> {
                    // a record's trouble never reaches a response
                    LOG.warn("distillation record not built: {}", e.toString());
                    return null;
                });
    }

    private String problem(Score s, KvCache cache) {
        if (cache == null) {
            return "request " + s.requestId() + " has no open target cache";
        }
        if (s.keep() < 0 || s.keep() > cache.length()) {
            return "cannot keep " + s.keep() + " of " + cache.length() + " cached positions";
        }
        if (s.tokens().length == 0 || s.keepLast() > s.tokens().length) {
            return s.tokens().length == 0 ? "nothing to score" : "a proposal of " + s.k()
                    + " tokens needs the pending token before it, got " + s.tokens().length + " tokens";
        }
        if (s.q() != null && s.sampling() != null) {
            for (int i = 0; i < s.q().length; i++) {
                if (s.q()[i] == null) {
                    return "proposal position " + i + " has no draft distribution";
                }
            }
        }
        if (s.promptLogprobs() && (s.next() < 0 || s.next() >= target.config().vocabSize())) {
            return "a prefill with log-probabilities needs the token after it in the vocabulary, got " + s.next();
        }
        for (int t : s.tokens()) {
            if (t < 0 || t >= target.config().vocabSize()) {
                return "token id " + t + " outside the vocabulary of " + target.config().vocabSize();
            }
        }
        if (s.keep() + s.tokens().length > pool.positions()) {
            return "sequence of " + (s.keep() + s.tokens().length) + " tokens exceeds the target's "
                    + pool.positions() + " positions";
        }
        return null;
    }

    private Behavior<Command> onOwnerGone(OwnerGone gone) {
        List<String> owned = requestsByOwner.remove(gone.owner());
        if (owned != null) {
            owned.forEach(this::release);
        }
        return this;
    }

    private Behavior<Command> release(String requestId) {
        answeredAt.remove(requestId);
        returnMicros.remove(requestId);
        Held h = caches.remove(requestId);
        if (h != null) {
            h.cache.close();
        }
        queue.removeIf(s -> s.requestId().equals(requestId));
        return this;
    }
}
