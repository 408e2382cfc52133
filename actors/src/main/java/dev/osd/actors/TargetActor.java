package dev.osd.actors;

import com.typesafe.config.Config;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
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

/**
 * The verifier: owns the target model and one KV cache per open request, and scores the work of many
 * requests in one batched forward (continuous batching). Work that arrives while a forward runs waits in the
 * mailbox; after each forward the actor takes everything queued, up to a bounded batch, into the next one, so
 * the batch grows with load and a lone request never waits for company. A request's cache is released when
 * it closes or when its actor stops. On start, on its own dispatcher, the actor warms the model up
 * ({@code osd.serving.warm-up-tokens}) and only then registers with the Receptionist, which is what readiness
 * counts: a node reports ready with a target whose first request runs as fast as the thousandth.
 */
public final class TargetActor extends AbstractBehavior<TargetActor.Command> {

    public sealed interface Command {
    }

    /** Opens a cache for a request; {@code owner} is watched, and its end releases the cache. */
    public record Open(String requestId, ActorRef<?> owner, ActorRef<Opened> replyTo) implements Command, CrossNode {
    }

    /** The answer to {@link Open}: refused when every cache slot is in use (overload). */
    public record Opened(String requestId, boolean accepted, String problem) implements CrossNode {
    }

    /**
     * Rolls the request's cache back to {@code keep} positions, feeds {@code tokens} and answers with the
     * logits of the last {@code keepLast} of them: a prefill, a verification of k proposals (pending token
     * plus proposals, keepLast = k + 1), or a plain decoding step.
     */
    public record Score(String requestId, int keep, int[] tokens, int keepLast, ActorRef<Scored> replyTo)
            implements Command, CrossNode {
    }

    /**
     * Logits of the scored positions, or the problem that prevented scoring.
     *
     * @param cacheFull set when the problem is that the key/value memory has too few free blocks for the
     *     work (then the request is refused as overloaded when this was its prompt, or ends as it is, with
     *     finish_reason "length", when it was growing); null otherwise
     */
    public record Scored(String requestId, float[][] logits, String problem, CacheFull cacheFull)
            implements CrossNode {
        public Scored(String requestId, float[][] logits, String problem) {
            this(requestId, logits, problem, null);
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

    private final LlamaModel target;
    private final KvCachePool pool;
    private final int maxBatch;
    private final Map<String, KvCache> caches = new HashMap<>();
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
        caches.put(open.requestId(), pool.acquire());
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
        List<KvCache> batchCaches = new ArrayList<>();
        List<int[]> tokens = new ArrayList<>();
        int taking = 0; // blocks the sequences already in this batch will take
        for (Score s : nextBatch(queue, maxBatch)) {
            KvCache cache = caches.get(s.requestId());
            String problem = problem(s, cache);
            if (problem != null) {
                s.replyTo().tell(new Scored(s.requestId(), null, problem));
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
                s.replyTo().tell(new Scored(s.requestId(), null, why, full));
                continue;
            }
            taking += needed;
            batch.add(s);
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
                    s.replyTo().tell(new Scored(s.requestId(), null, "target forward failed: " + e.getMessage()));
                }
                return this;
            }
            forwards++;
            scored += batch.size();
            largestBatch = Math.max(largestBatch, batch.size());
            long now = System.nanoTime();
            for (int i = 0; i < batch.size(); i++) {
                batch.get(i).replyTo().tell(new Scored(batch.get(i).requestId(), logits.get(i), null));
                answeredAt.put(batch.get(i).requestId(), now);
            }
        }
        if (!queue.isEmpty() && !flushPending) {
            flushPending = true;
            flushRequestedAt = System.nanoTime();
            getContext().getSelf().tell(Flush.INSTANCE);
        }
        return this;
    }

    private String problem(Score s, KvCache cache) {
        if (cache == null) {
            return "request " + s.requestId() + " has no open target cache";
        }
        if (s.keep() < 0 || s.keep() > cache.length()) {
            return "cannot keep " + s.keep() + " of " + cache.length() + " cached positions";
        }
        if (s.tokens().length == 0 || s.keepLast() < 1 || s.keepLast() > s.tokens().length) {
            return "nothing to score";
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
        KvCache cache = caches.remove(requestId);
        if (cache != null) {
            cache.close();
        }
        queue.removeIf(s -> s.requestId().equals(requestId));
        return this;
    }
}
