package dev.osd.actors;

import dev.osd.engine.DraftSource;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.Proposal;
import dev.osd.engine.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * One replica of a draft: proposes k tokens for a request from the draft's current version, keeping a cache
 * per request. Each proposal takes the version that serves at that moment; when it differs from the version
 * that filled the request's cache, the cache is read again from the start, so a new version takes over
 * between two proposals without pausing anyone. The request sends its whole sequence; the actor feeds only
 * what its cache lacks.
 */
public final class DraftActor extends AbstractBehavior<DraftActor.Command> {

    public sealed interface Command {
    }

    /**
     * Propose k tokens continuing {@code sequence}.
     *
     * @param seed draws of a sampled proposal (the request's random stream decides it)
     */
    public record Propose(String requestId, int[] sequence, int k, SamplingParams sampling, long seed,
            ActorRef<?> owner, ActorRef<Proposed> replyTo) implements Command, CrossNode {
    }

    /** The proposal and the version that made it, or the problem. */
    public record Proposed(String requestId, int[] tokens, double[][] q, long version, String problem)
            implements CrossNode {
        public Proposal proposal() {
            return new Proposal(tokens, q);
        }
    }

    public record Release(String requestId) implements Command, CrossNode {
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

    private final String draft;
    private final DraftSource source;
    private final KvCachePool pool;
    private final Map<String, Entry> entries = new HashMap<>();
    private final Map<ActorRef<?>, List<String>> requestsByOwner = new HashMap<>();

    /**
     * @param source the draft's versions (a {@code LiveDraft} that a trainer publishes to, or a fixed model)
     * @param pool caches for concurrent requests, of the draft's shape
     */
    public static Behavior<Command> create(String draft, DraftSource source, KvCachePool pool) {
        return Behaviors.setup(ctx -> new DraftActor(ctx, draft, source, pool));
    }

    private DraftActor(ActorContext<Command> ctx, String draft, DraftSource source, KvCachePool pool) {
        super(ctx);
        this.draft = draft;
        this.source = source;
        this.pool = pool;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Propose.class, this::onPropose)
                .onMessage(Release.class, r -> release(r.requestId()))
                .onMessage(OwnerGone.class, g -> {
                    List<String> owned = requestsByOwner.remove(g.owner());
                    if (owned != null) {
                        owned.forEach(this::release);
                    }
                    return this;
                })
                .onSignal(PostStop.class, s -> releaseAll())
                .onSignal(PreRestart.class, s -> releaseAll())
                .build();
    }

    private Behavior<Command> onPropose(Propose p) {
        try {
            Entry e = entries.get(p.requestId());
            if (e == null) {
                if (pool.freeSlots() == 0) {
                    p.replyTo().tell(new Proposed(p.requestId(), null, null, -1, "all draft caches of " + draft
                            + " are in use"));
                    return this;
                }
                e = new Entry(pool.acquire());
                entries.put(p.requestId(), e);
                requestsByOwner.computeIfAbsent(p.owner(), o -> {
                    getContext().watchWith(o, new OwnerGone(o));
                    return new ArrayList<>();
                }).add(p.requestId());
            }
            try (DraftSource.Lease lease = source.acquire()) {
                LlamaConfig shape = lease.model().config();
                if (!shape.equals(pool.config())) {
                    throw new IllegalStateException("draft version " + lease.number() + " has another shape");
                }
                if (lease.number() != e.version) {
                    e.cache.truncate(0);
                    e.tokens = new int[0];
                    e.version = lease.number();
                }
                int common = commonPrefix(e.tokens, p.sequence(), e.cache.length());
                e.cache.truncate(common);
                int room = pool.positions() - p.sequence().length;
                int k = Math.min(p.k(), room);
                if (k < 1) {
                    p.replyTo().tell(new Proposed(p.requestId(), null, null, lease.number(), "no room to propose"));
                    return this;
                }
                int[] feed = Arrays.copyOfRange(p.sequence(), common, p.sequence().length);
                if (feed.length == 0) {
                    // the cache holds the whole sequence: step back one token to get logits for the next
                    e.cache.truncate(common - 1);
                    feed = new int[] {p.sequence()[common - 1]};
                }
                Proposal proposal = Proposal.draw(lease.model(), e.cache, feed, k, p.sampling(),
                        new SplittableRandom(p.seed()));
                // the cache now holds the sequence and the first k-1 proposed tokens
                int[] held = Arrays.copyOf(p.sequence(), e.cache.length());
                System.arraycopy(proposal.tokens(), 0, held, p.sequence().length, e.cache.length() - p.sequence().length);
                e.tokens = held;
                p.replyTo().tell(new Proposed(p.requestId(), proposal.tokens(), proposal.q(), lease.number(), null));
            }
        } catch (RuntimeException ex) {
            getContext().getLog().warn("draft {}: proposal for {} failed", draft, p.requestId(), ex);
            release(p.requestId());
            p.replyTo().tell(new Proposed(p.requestId(), null, null, -1, "draft " + draft + " failed: "
                    + ex.getMessage()));
        }
        return this;
    }

    private Behavior<Command> releaseAll() {
        // a restarted replica starts with no caches; its requests re-send their sequences
        entries.values().forEach(e -> e.cache.close());
        entries.clear();
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
        Entry e = entries.remove(requestId);
        if (e != null) {
            e.cache.close();
        }
        return this;
    }
}
