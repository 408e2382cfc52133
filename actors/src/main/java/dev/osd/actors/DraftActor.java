package dev.osd.actors;

import com.typesafe.config.Config;
import dev.osd.engine.DraftSource;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.Proposal;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.ServingBackend;
import dev.osd.engine.SparseDistribution;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.ToIntFunction;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * One replica of a draft: proposes k tokens for requests from the draft's current version, keeping a cache
 * per request. Proposals that arrive while a forward runs wait in the actor's queue; the next proposal step
 * takes them all (up to {@code osd.draft.max-batch}) into one batched forward per drawn token, every request's
 * row in it, so the draft's weights are read once per step for all of them; a request leaves the batch when it
 * has its k tokens. Each request draws from its own random stream, so a batched proposal is exactly the one
 * the request would get alone.
 *
 * <p>Each proposal step takes the version that serves at that moment; when it differs from the version that
 * filled a request's cache, the cache is read again from the start, so a new version takes over between two
 * proposals without pausing anyone. The request sends only the tokens appended since its last proposal (and
 * the position they start at); the actor keeps each request's sequence and feeds only what its cache lacks. A
 * start it cannot continue (a replica that restarted and lost the sequence) is answered with the position to
 * send from. Each position's q is the draft's distribution shaped over the request's sequence
 * (the logits shaping the target applies to p), cut to its top N ({@code osd.draft.proposal-top-n}) and
 * renormalised, and the token is drawn from that (a seeded request's by the counter noise the target verifies
 * with): the q that travels is the proposal distribution itself. On start, on its own dispatcher, the replica warms the draft up ({@code osd.serving.warm-up-tokens})
 * and only then registers with the Receptionist, which is what readiness counts.
 */
public final class DraftActor extends AbstractBehavior<DraftActor.Command> {

    public sealed interface Command {
    }

    /**
     * Propose k tokens continuing the request's sequence: the one this replica was told before, up to
     * {@code start}, followed by {@code tokens} (start 0: {@code tokens} is the whole sequence).
     *
     * @param seed draws of a sampled proposal (the request's random stream decides it)
     */
    public record Propose(String requestId, int start, int[] tokens, int k, SamplingParams sampling, long seed,
            ActorRef<?> owner, ActorRef<Proposed> replyTo) implements Command, CrossNode {

        /** Propose k tokens continuing the whole {@code sequence}. */
        public Propose(String requestId, int[] sequence, int k, SamplingParams sampling, long seed, ActorRef<?> owner,
                ActorRef<Proposed> replyTo) {
            this(requestId, 0, sequence, k, sampling, seed, owner, replyTo);
        }
    }

    /**
     * The proposal and the version that made it, or the problem.
     *
     * @param q per proposed token, the sparse distribution it was drawn from (one-hot for a suffix match)
     * @param proposer who proposed: draft (the model), suffix (a match in served text, one-hot q), or
     *     suffix+draft (a match the model extended)
     * @param resyncFrom with a problem: the replica lacks the sequence from this position (send it from there
     *     and ask again); -1 otherwise
     */
    public record Proposed(String requestId, int[] tokens, SparseDistribution[] q, long version, String problem,
            String proposer, int resyncFrom) implements CrossNode {
        public Proposed(String requestId, int[] tokens, SparseDistribution[] q, long version, String problem) {
            this(requestId, tokens, q, version, problem, "draft", -1);
        }

        public Proposed(String requestId, int[] tokens, SparseDistribution[] q, long version, String problem,
                String proposer) {
            this(requestId, tokens, q, version, problem, proposer, -1);
        }

        public Proposed(String requestId, int[] tokens, SparseDistribution[] q, long version, String problem,
                int resyncFrom) {
            this(requestId, tokens, q, version, problem, "draft", resyncFrom);
        }

        /** The first {@code n} tokens (a request with less room than the proposal takes). */
        public Proposed truncated(int n) {
            return n >= tokens.length ? this : new Proposed(requestId, Arrays.copyOf(tokens, n),
                    Arrays.copyOf(q, n), version, problem, proposer, resyncFrom);
        }

        public Proposal proposal() {
            return new Proposal(tokens, q);
        }
    }

    public record Release(String requestId) implements Command, CrossNode {
    }

    /** Batching figures so far. */
    public record GetStats(ActorRef<Stats> replyTo) implements Command, CrossNode {
    }

    /**
     * @param forwards draft forwards run for proposals
     * @param proposals proposals made (each in some batch)
     * @param largestBatch most requests in one forward
     * @param openCaches requests holding a cache now
     * @param warmUpPositions positions the warm-up ran before the replica took work (0: none)
     */
    public record Stats(long forwards, long proposals, int largestBatch, int openCaches, int warmUpPositions)
            implements CrossNode {
    }

    private enum Flush implements Command, LocalOnly {
        INSTANCE
    }

    private record OwnerGone(ActorRef<?> owner) implements Command, LocalOnly {
    }

    /** What one request's cache holds. */
    private static final class Entry {
        final KvCache cache;
        int[] tokens = new int[0];
        long version = Long.MIN_VALUE;

        Entry(KvCache cache) {
            this.cache = cache;
        }
    }

    /**
     * One request's part of a batched proposal: its cache, the tokens it lacks (fed in the first step, one
     * row each), how many tokens to draw, its own sampling and random stream, and the whole sequence (the
     * logits shaping's history and the positions of seeded draws; null: {@link Proposal#sequenceOf}).
     */
    record Row(KvCache cache, int[] feed, int k, SamplingParams sampling, SplittableRandom random, int[] sequence) {
        Row(KvCache cache, int[] feed, int k, SamplingParams sampling, SplittableRandom random) {
            this(cache, feed, k, sampling, random, null);
        }
    }

    /** Where the most requests one proposal forward takes is set. */
    static final String MAX_BATCH = "osd.draft.max-batch";
    /** Where the number of tokens each proposed position's q keeps is set. */
    static final String PROPOSAL_TOP_N = "osd.draft.proposal-top-n";

    private final String draft;
    private final DraftSource source;
    private final KvCachePool pool;
    private final int maxBatch;
    // a forward that pads every sequence to the longest (DJL) batches long catch-ups only with each other
    private final int shortWork;
    private final int topN;
    private final Map<String, Entry> entries = new HashMap<>();
    // each request's whole sequence as it last told it, which the next Propose continues
    private final Map<String, int[]> told = new HashMap<>();
    private final Map<ActorRef<?>, List<String>> requestsByOwner = new HashMap<>();
    private final Deque<Propose> queue = new ArrayDeque<>();
    private boolean flushPending;
    private final int warmUpPositions;
    private final boolean warmedUp;
    private long forwards;
    private long proposals;
    private int largestBatch;
    private final DraftProposers proposers;

    /**
     * A replica nobody finds through the Receptionist (tests, and callers that hand its ref around).
     *
     * @param source the draft's versions (a {@code LiveDraft} that a trainer publishes to, or a fixed model)
     * @param pool caches for concurrent requests, of the draft's shape
     */
    public static Behavior<Command> create(String draft, DraftSource source, KvCachePool pool) {
        return create(draft, source, pool, null);
    }

    /** @param registerAs the key the replica registers under once warmed up, or null */
    public static Behavior<Command> create(String draft, DraftSource source, KvCachePool pool,
            ServiceKey<Command> registerAs) {
        return Behaviors.setup(ctx -> {
            DraftActor actor = new DraftActor(ctx, draft, source, pool);
            if (registerAs != null && actor.warmedUp) {
                ctx.getSystem().receptionist().tell(Receptionist.register(registerAs, ctx.getSelf()));
            }
            return actor;
        });
    }

    private DraftActor(ActorContext<Command> ctx, String draft, DraftSource source, KvCachePool pool) {
        super(ctx);
        this.draft = draft;
        this.source = source;
        this.pool = pool;
        Config config = ctx.getSystem().settings().config();
        this.maxBatch = config.getInt(MAX_BATCH);
        if (maxBatch < 1) {
            throw new IllegalArgumentException(MAX_BATCH + " must be >= 1, was " + maxBatch);
        }
        this.topN = config.getInt(PROPOSAL_TOP_N);
        if (topN < 0) {
            throw new IllegalArgumentException(PROPOSAL_TOP_N + " must be >= 0 (0: every token), was " + topN);
        }
        this.shortWork = pool.backend() == ServingBackend.DJL ? TargetActor.SHORT_WORK : Integer.MAX_VALUE;
        this.proposers = DraftProposers.from(config, source, pool.config().vocabSize());
        int tokens = WarmUp.tokens(config);
        long start = System.nanoTime();
        int warmed = 0;
        boolean ok = true;
        if (tokens > 0) {
            try (DraftSource.Lease lease = source.acquire()) {
                if (lease.model().config().equals(pool.config())) {
                    warmed = WarmUp.run(lease.model(), pool, tokens);
                }
                ctx.getLog().info("draft {} warmed up: {} positions in {} ms", draft, warmed,
                        (System.nanoTime() - start) / 1_000_000);
            } catch (RuntimeException e) {
                // not listed, so readiness says the draft has no replica; its proposals answer with the problem
                ctx.getLog().error("draft {}: warm-up failed, the replica stays unlisted", draft, e);
                ok = false;
            }
        }
        this.warmUpPositions = warmed;
        this.warmedUp = ok;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Propose.class, this::onPropose)
                .onMessageEquals(Flush.INSTANCE, this::onFlush)
                .onMessage(Release.class, r -> release(r.requestId()))
                .onMessage(OwnerGone.class, g -> {
                    List<String> owned = requestsByOwner.remove(g.owner());
                    if (owned != null) {
                        owned.forEach(this::release);
                    }
                    return this;
                })
                .onMessage(GetStats.class, g -> {
                    g.replyTo().tell(new Stats(forwards, proposals, largestBatch, entries.size(), warmUpPositions));
                    return this;
                })
                .onSignal(PostStop.class, s -> releaseAll("stopped"))
                .onSignal(PreRestart.class, s -> releaseAll("restarting"))
                .build();
    }

    private Behavior<Command> onPropose(Propose asked) {
        int[] before = told.get(asked.requestId());
        int known = before == null ? 0 : before.length;
        if (asked.start() < 0 || asked.start() > known) {
            // the sequence before start is gone (a restart) or was never told: the request sends it again
            asked.replyTo().tell(new Proposed(asked.requestId(), null, null, -1, "draft " + draft + " holds "
                    + known + " tokens of the sequence, the proposal continues from " + asked.start(), known));
            return this;
        }
        int[] sequence = asked.tokens();
        if (asked.start() > 0) {
            sequence = Arrays.copyOf(before, asked.start() + asked.tokens().length);
            System.arraycopy(asked.tokens(), 0, sequence, asked.start(), asked.tokens().length);
        }
        told.put(asked.requestId(), sequence);
        // planned with the whole sequence: what follows reads it as one
        Propose p = proposers.plan(new Propose(asked.requestId(), sequence, asked.k(), asked.sampling(), asked.seed(),
                asked.owner(), asked.replyTo()), pool.positions());
        if (p == null) {
            return this; // the suffix proposer answered
        }
        queue.add(p);
        if (!flushPending) {
            // behind whatever is already in the mailbox: all of it joins this batch
            flushPending = true;
            getContext().getSelf().tell(Flush.INSTANCE);
        }
        return this;
    }

    /**
     * Takes the next batch from the queue, in order: at most one proposal per request (a second one would extend
     * the same cache, so it waits for the next batch), up to {@code maxBatch}; the oldest decides the kind, work
     * whose catch-up feeds at most {@code shortWork} tokens or longer work, and only that kind goes (a forward that
     * pads sequences to the longest would make short work pay for a long catch-up); the rest keeps its place.
     *
     * @param feedLength how many tokens a proposal's first step feeds (what its cache lacks)
     */
    static List<Propose> nextBatch(Deque<Propose> queue, int maxBatch, int shortWork,
            ToIntFunction<Propose> feedLength) {
        List<Propose> batch = new ArrayList<>();
        if (queue.isEmpty()) {
            return batch;
        }
        boolean shortKind = feedLength.applyAsInt(queue.peek()) <= shortWork;
        Set<String> taken = new HashSet<>();
        Iterator<Propose> it = queue.iterator();
        while (it.hasNext() && batch.size() < maxBatch) {
            Propose p = it.next();
            if ((feedLength.applyAsInt(p) <= shortWork) == shortKind && taken.add(p.requestId())) {
                it.remove();
                batch.add(p);
            }
        }
        return batch;
    }

    /**
     * Draws every row's proposal: one forward per step over the rows still drawing, the first over each row's
     * feed, then over each row's last drawn token; a row leaves when it has its k tokens. Per row, exactly
     * {@link Proposal#draw} (the batched forward equals the per-sequence one, and each row has its own random
     * stream), but the weights are read once per step for all rows. Afterwards each cache holds its feed and the
     * first k - 1 drawn tokens.
     *
     * @return the proposals, in the rows' order
     */
    static List<Proposal> draw(LlamaModel model, List<Row> rows, int topN, long[] forwardsRun) {
        int n = rows.size();
        int[][] tokens = new int[n][];
        SparseDistribution[][] q = new SparseDistribution[n][];
        int steps = 0;
        int[][] history = new int[n][];
        for (int b = 0; b < n; b++) {
            Row row = rows.get(b);
            int[] sequence = row.sequence() != null ? row.sequence()
                    : Proposal.sequenceOf(row.cache(), row.feed(), row.sampling());
            history[b] = Arrays.copyOf(sequence, sequence.length + row.k());
            tokens[b] = new int[rows.get(b).k()];
            q[b] = new SparseDistribution[rows.get(b).k()];
            steps = Math.max(steps, rows.get(b).k());
        }
        List<KvCache> caches = new ArrayList<>(n);
        List<int[]> feeds = new ArrayList<>(n);
        List<Integer> active = new ArrayList<>(n);
        for (int i = 0; i < steps; i++) {
            caches.clear();
            feeds.clear();
            active.clear();
            for (int b = 0; b < n; b++) {
                Row row = rows.get(b);
                if (i < row.k()) {
                    active.add(b);
                    caches.add(row.cache());
                    feeds.add(i == 0 ? row.feed() : new int[] {tokens[b][i - 1]});
                }
            }
            int[] keepLast = new int[active.size()];
            Arrays.fill(keepLast, 1);
            List<float[][]> logits = model.forward(caches, feeds, keepLast);
            forwardsRun[0]++;
            for (int a = 0; a < active.size(); a++) {
                int b = active.get(a);
                Row row = rows.get(b);
                float[] last = logits.get(a)[0];
                int position = history[b].length - row.k() + i;
                q[b][i] = Proposal.row(last, row.sampling(), history[b], position, topN);
                tokens[b][i] = Proposal.next(q[b][i], row.sampling(), row.random(), position);
                history[b][position] = tokens[b][i];
            }
        }
        List<Proposal> out = new ArrayList<>(n);
        for (int b = 0; b < n; b++) {
            out.add(new Proposal(tokens[b], q[b]));
        }
        return out;
    }

    private Behavior<Command> onFlush() {
        flushPending = false;
        List<Propose> batch = List.of();
        try (DraftSource.Lease lease = source.acquire()) {
            long version = lease.version();
            batch = nextBatch(queue, maxBatch, shortWork, p -> feedLength(p, version));
            LlamaConfig shape = lease.model().config();
            if (!shape.equals(pool.config())) {
                throw new IllegalStateException("draft version " + version + " has another shape");
            }
            List<Propose> drawing = new ArrayList<>();
            List<Row> rows = new ArrayList<>();
            for (Propose p : batch) {
                Row row = prepare(p, version);
                if (row != null) {
                    drawing.add(p);
                    rows.add(row);
                }
            }
            if (!rows.isEmpty()) {
                long[] run = {0};
                long drawStart = System.nanoTime();
                List<Proposal> drawn = draw(lease.model(), rows, topN, run);
                long drawNanos = System.nanoTime() - drawStart;
                forwards += run[0];
                proposals += rows.size();
                largestBatch = Math.max(largestBatch, rows.size());
                for (int b = 0; b < rows.size(); b++) {
                    Propose p = drawing.get(b);
                    Proposal proposal = drawn.get(b);
                    Entry e = entries.get(p.requestId());
                    // the cache now holds the sequence and the first k-1 proposed tokens
                    int[] held = Arrays.copyOf(p.tokens(), e.cache.length());
                    System.arraycopy(proposal.tokens(), 0, held, p.tokens().length,
                            e.cache.length() - p.tokens().length);
                    e.tokens = held;
                    p.replyTo().tell(proposers.drafted(p, proposal, version, drawNanos));
                }
            }
        } catch (RuntimeException ex) {
            getContext().getLog().warn("draft {}: proposal for {} requests failed", draft, batch.size(), ex);
            for (Propose p : batch) {
                release(p.requestId());
                p.replyTo().tell(new Proposed(p.requestId(), null, null, -1, "draft " + draft + " failed: "
                        + ex.getMessage()));
            }
        }
        if (!queue.isEmpty() && !flushPending) {
            flushPending = true;
            getContext().getSelf().tell(Flush.INSTANCE);
        }
        return this;
    }

    /** Tokens the first step of {@code p} would feed with the serving version (its cache read, at least one). */
    private int feedLength(Propose p, long version) {
        Entry e = entries.get(p.requestId());
        if (e == null || e.version != version) {
            return p.tokens().length;
        }
        return Math.max(1, p.tokens().length - commonPrefix(e.tokens, p.tokens(), e.cache.length()));
    }

    /**
     * Readies a request's cache for its proposal and returns its row, or answers the problem and returns null.
     */
    private Row prepare(Propose p, long version) {
        String problem = problem(p);
        if (problem != null) {
            release(p.requestId());
            p.replyTo().tell(new Proposed(p.requestId(), null, null, version, problem));
            return null;
        }
        Entry e = entries.get(p.requestId());
        if (e == null) {
            if (pool.freeSlots() == 0) {
                p.replyTo().tell(new Proposed(p.requestId(), null, null, -1, "all draft caches of " + draft
                        + " are in use"));
                return null;
            }
            e = new Entry(pool.acquire());
            entries.put(p.requestId(), e);
            requestsByOwner.computeIfAbsent(p.owner(), o -> {
                getContext().watchWith(o, new OwnerGone(o));
                return new ArrayList<>();
            }).add(p.requestId());
        }
        if (version != e.version) {
            e.cache.truncate(0);
            e.tokens = new int[0];
            e.version = version;
        }
        int common = commonPrefix(e.tokens, p.tokens(), e.cache.length());
        e.cache.truncate(common);
        int k = Math.min(p.k(), pool.positions() - p.tokens().length);
        if (k < 1) {
            p.replyTo().tell(new Proposed(p.requestId(), null, null, version, "no room to propose"));
            return null;
        }
        int[] feed = Arrays.copyOfRange(p.tokens(), common, p.tokens().length);
        if (feed.length == 0) {
            // the cache holds the whole sequence: step back one token to get logits for the next
            e.cache.truncate(common - 1);
            feed = new int[] {p.tokens()[common - 1]};
        }
        return new Row(e.cache, feed, k, p.sampling(), new SplittableRandom(p.seed()), p.tokens());
    }

    /** What makes a proposal impossible before any forward (one bad request must not fail the whole batch). */
    private String problem(Propose p) {
        if (p.tokens().length == 0) {
            return "nothing to continue: the sequence is empty";
        }
        if (p.k() < 1) {
            return "k must be >= 1, was " + p.k();
        }
        int vocab = pool.config().vocabSize();
        for (int t : p.tokens()) {
            if (t < 0 || t >= vocab) {
                return "token id " + t + " outside the vocabulary of " + vocab;
            }
        }
        return null;
    }

    private Behavior<Command> releaseAll(String why) {
        // a restarted replica starts with no caches; its requests re-send their sequences
        for (Propose p : queue) {
            p.replyTo().tell(new Proposed(p.requestId(), null, null, -1, "draft " + draft + " " + why));
        }
        queue.clear();
        entries.values().forEach(e -> e.cache.close());
        entries.clear();
        told.clear();
        requestsByOwner.clear();
        return this;
    }

    private static int commonPrefix(int[] held, int[] sequence, int cached) {
        int n = Math.min(Math.min(held.length, sequence.length), cached);
        int i = 0;
        while (i < n && held[i] == sequence[i]) {
            i++;
        }
        return i;
    }

    private Behavior<Command> release(String requestId) {
        proposers.release(requestId);
        Entry e = entries.remove(requestId);
        if (e != null) {
            e.cache.close();
        }
        told.remove(requestId);
        // a request that lets its cache go wants none of its queued proposals either
        queue.removeIf(p -> p.requestId().equals(requestId));
        return this;
    }
}
