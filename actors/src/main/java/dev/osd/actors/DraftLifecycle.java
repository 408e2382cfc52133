package dev.osd.actors;

import dev.osd.distillation.DistillationRecord;
import dev.osd.distillation.DraftTrainer;
import dev.osd.distillation.Evaluation;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.ServingBackend;
import dev.osd.engine.TextTokenizer;
import dev.osd.routing.RoutingRule;
import dev.osd.routing.SpawnPolicy;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Predicate;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.MailboxSelector;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.ClusterSingletonSettings;
import org.apache.pekko.cluster.typed.SingletonActor;

/**
 * The drafts of one node: for each, what its roles run of it — a replica with its cache pool and the receiver
 * of new versions (draft role), the trainer with the publisher of new versions (trainer role; a Cluster
 * Singleton in a cluster) — and every draft's adaptive proposal length, which it hands to the
 * {@link ServiceDirectory}. It adds drafts (made by the draft factory off this actor's thread), retires them
 * (the trainer's close, which waits for its update and writes a checkpoint, runs on the blocking dispatcher),
 * and pauses or resumes training, here and on other nodes.
 */
public final class DraftLifecycle extends AbstractBehavior<DraftLifecycle.Command> {

    /** Prior growth of verification time per extra row, relative to one row (measured: ~0.3 on a CPU). */
    private static final double VERIFICATION_SLOPE_PRIOR = 0.3;

    static final String DRAFT_KV_CACHE_MEMORY = "osd.draft.kv-cache-memory";

    /** Local: the lifecycle's commands carry models, factories and futures of this JVM. */
    public sealed interface Command extends LocalOnly {
    }

    /** Makes and serves a new draft for a new class; {@code rule} routes its class, may be null. */
    public record AddDraft(String name, RoutingRule rule, CompletableFuture<ServingSystem.Draft> done)
            implements Command {
    }

    /** Stops serving a draft: its requests in flight go on target-only; {@code done} completes once it is closed. */
    public record RetireDraft(String name, CompletableFuture<Void> done) implements Command {
    }

    /** Pauses or resumes the training of one draft ({@code name} null: of all), on this node and elsewhere. */
    public record SetTraining(String name, boolean paused, CompletableFuture<Void> done) implements Command {
    }

    /**
     * The router's spawn policy decided: a traffic cluster gets a draft of its own, or a spawned draft whose
     * cluster went quiet is retired. {@code belongs} tells whether a text (a recorded sequence, decoded) belongs
     * to the decision's cluster.
     */
    public record Decided(SpawnPolicy.Decision decision, Predicate<String> belongs) implements Command {
    }

    /**
     * Why a spawned draft exists, with the figures the decision and its start were chosen on.
     *
     * @param servedBy the draft that served the cluster best before
     * @param startedFrom the draft whose weights it started from ("base" for the base draft)
     * @param baseAcceptance the base draft's expected acceptance on the cluster's records (NaN: not measured)
     * @param servedByAcceptance the same for the draft that served the cluster best so far
     * @param records the cluster's records it was given to learn from at once
     */
    public record Spawned(String cluster, String reason, double clusterAcceptance, double specialisedAcceptance,
            long requests, String servedBy, String startedFrom, double baseAcceptance, double servedByAcceptance,
            int records, Instant at) {
    }

    /** @param spawn whether the spawn policy asked for it (then {@code spawned} says why, once made) */
    private record Made(String name, RoutingRule rule, ServingSystem.Draft draft, Throwable failure,
            CompletableFuture<ServingSystem.Draft> done, boolean spawn, Spawned spawned) implements Command {
        Made(String name, RoutingRule rule, ServingSystem.Draft draft, Throwable failure,
                CompletableFuture<ServingSystem.Draft> done) {
            this(name, rule, draft, failure, done, false, null);
        }
    }

    /** What a spawn made off the actor's thread: the draft and what was found on the way. */
    private record SpawnMade(ServingSystem.Draft draft, Spawned spawned) {
    }

    /** Records of a cluster a spawned draft is given to learn from at once, at most. */
    static final int SPAWN_RECORDS = 256;

    private record Closed(String name, Throwable failure, CompletableFuture<Void> done) implements Command {
    }

    /** A retired draft's replica has stopped: its cache pool can go. */
    private record ReplicaStopped(KvCachePool pool) implements Command {
    }

    /**
     * What the lifecycle serves, for readers outside the actor (the HTTP routes, the metrics): replaced whole by
     * the actor on every change, never changed in place.
     *
     * @param local the drafts this node holds (replicas or trainers), by name
     * @param names every draft the system serves, wherever its replicas run
     * @param spawned the drafts this node spawned for traffic clusters, and why
     */
    public record Served(Map<String, ServingSystem.Draft> local, SortedSet<String> names,
            Map<String, Spawned> spawned) {
        public Served {
            local = Map.copyOf(local);
            names = Collections.unmodifiableSortedSet(new TreeSet<>(names));
            spawned = Map.copyOf(spawned);
        }

        Served(Map<String, ServingSystem.Draft> local, SortedSet<String> names) {
            this(local, names, Map.of());
        }
    }

    /** The newest {@link Served}; written by the lifecycle only. */
    public static final class View {
        private volatile Served served;

        View(Served initial) {
            served = initial;
        }

        public Served get() {
            return served;
        }
    }

    /** What this node runs of one draft. */
    private record Held(ServingSystem.Draft draft, ActorRef<DraftActor.Command> replica, KvCachePool pool,
            ActorRef<TrainerActor.Command> trainer) {
    }

    private static final Props DRAFT_MODELS = MailboxSelector.fromConfig(ActorMetrics.MAILBOX)
            .withDispatcherFromConfig("osd.draft-dispatcher");
    private static final Props COUNTED = MailboxSelector.fromConfig(ActorMetrics.MAILBOX);

    private final ServingSystem.Parts parts;
    private final ActorRef<RouterActor.Command> router;
    private final ActorRef<ServiceDirectory.Command> directory;
    private final View view;
    private final Executor blocking;
    private final Map<String, Held> held = new TreeMap<>();
    private final SortedSet<String> names = new TreeSet<>();
    private final Set<String> adding = new HashSet<>();
    private final Map<String, Spawned> spawned = new TreeMap<>();

    /**
     * @param router told of drafts added and retired; null on a node without the gateway role
     * @param view where the lifecycle shows what it serves
     */
    static Behavior<Command> create(ServingSystem.Parts parts, ActorRef<RouterActor.Command> router,
            ActorRef<ServiceDirectory.Command> directory, View view) {
        return Behaviors.setup(ctx -> new DraftLifecycle(ctx, parts, router, directory, view));
    }

    /** What a node starts out serving: its own drafts, and every draft's name. */
    static Served initial(ServingSystem.Parts parts) {
        Map<String, ServingSystem.Draft> local = new TreeMap<>();
        parts.drafts().forEach(d -> local.put(d.name(), d));
        SortedSet<String> all = new TreeSet<>(parts.draftNames());
        all.addAll(local.keySet());
        return new Served(local, all);
    }

    private DraftLifecycle(ActorContext<Command> ctx, ServingSystem.Parts parts, ActorRef<RouterActor.Command> router,
            ActorRef<ServiceDirectory.Command> directory, View view) {
        super(ctx);
        this.parts = parts;
        this.router = router;
        this.directory = directory;
        this.view = view;
        this.blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking());
        for (ServingSystem.Draft d : parts.drafts()) {
            spawn(d);
        }
        names.addAll(parts.draftNames());
        for (String name : parts.draftNames()) {
            if (!held.containsKey(name)) {
                follow(name, null);
            }
        }
        publish();
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(AddDraft.class, this::onAddDraft)
                .onMessage(Made.class, this::onMade)
                .onMessage(RetireDraft.class, this::onRetireDraft)
                .onMessage(Closed.class, c -> {
                    if (c.failure() != null) {
                        getContext().getLog().error("draft {} could not be closed", c.name(), c.failure());
                    }
                    c.done().complete(null);
                    return this;
                })
                .onMessage(ReplicaStopped.class, s -> {
                    s.pool().close();
                    return this;
                })
                .onMessage(SetTraining.class, this::onSetTraining)
                .onMessage(Decided.class, this::onDecided)
                .build();
    }

    /** The directory follows a draft with this node's replica and trainer of it (null: none here). */
    private void follow(String name, Held h) {
        ServingSystem.Settings s = parts.settings();
        // verification cost grows with the rows scored (bench engine: 6 rows cost ~2.6 decodes on the CPU forward);
        // the line fitted to what requests measure replaces this prior once two lengths were served
        AdaptiveProposalLength adaptive = new AdaptiveProposalLength(s.minK(), s.maxK(), 0.5, s.costRatio(), 0.05,
                VERIFICATION_SLOPE_PRIOR);
        directory.tell(new ServiceDirectory.Follow(name, h == null ? null : h.replica(),
                h == null ? null : h.trainer(), h == null || h.pool() == null ? 0 : h.pool().positions(), adaptive));
    }

    /**
     * What this node runs of a draft: a replica (restarted when it fails) with the receiver of new versions
     * (draft role), and its trainer with the publisher of new versions (trainer role; one in the whole cluster,
     * a Cluster Singleton, when the node is in a cluster).
     */
    private void spawn(ServingSystem.Draft d) {
        ServingSystem.Settings s = parts.settings();
        ActorContext<Command> ctx = getContext();
        ActorRef<DraftActor.Command> replica = null;
        KvCachePool pool = null;
        if (parts.roles().contains("draft")) {
            try (var lease = d.live().acquire()) {
                LlamaModel shape = lease.model();
                pool = KvCachePool.forBudget(shape.config(), s.slots(),
                        TargetActor.contextLimit(ctx.getSystem().settings().config(), parts.targetConfig()),
                        ctx.getSystem().settings().config().getBytes(DRAFT_KV_CACHE_MEMORY), parts.manager(),
                        ServingBackend.current());
                parts.metrics().kvCache(d.name(), pool);
                // a replica that fails is restarted; requests it served go on (its answers time out or come back
                // with a problem, and they continue target-only)
                replica = ctx.spawn(ActorMetrics.restarting(DraftActor.Command.class, "draft",
                        DraftActor.create(d.name(), d.live(), pool, ServiceDirectory.draftKey(d.name()))),
                        "draft-" + d.name(), DRAFT_MODELS);
                ctx.spawn(DraftWeights.receiver(d.name(), d.live(), shape.config(), parts.manager(),
                        parts.onVersionReceived()), "weights-" + d.name());
            }
        }
        ActorRef<TrainerActor.Command> trainer = null;
        if (parts.roles().contains("trainer") && d.trainer() != null) {
            trainer = spawnTrainer(d);
        }
        Held h = new Held(d, replica, pool, trainer);
        held.put(d.name(), h);
        names.add(d.name());
        follow(d.name(), h);
    }

    private ActorRef<TrainerActor.Command> spawnTrainer(ServingSystem.Draft d) {
        Behavior<TrainerActor.Command> trainer = Behaviors.setup(tctx -> {
            // a trainer that starts here (first, or taking over from another node) learns from the newest
            // version this node's replica holds
            d.trainer().resync();
            tctx.spawn(DraftWeights.publisher(d.name(), d.live(), Duration.ofSeconds(1)), "weights");
            tctx.getSystem().receptionist().tell(Receptionist.register(ServiceDirectory.trainerKey(d.name()),
                    tctx.getSelf()));
            return TrainerActor.create(d.trainer());
        });
        if (parts.cluster()) {
            return ClusterSingleton.get(getContext().getSystem()).init(
                    SingletonActor.of(ActorMetrics.restarting(TrainerActor.Command.class, "trainer", trainer),
                            "trainer-" + d.name())
                            .withSettings(ClusterSingletonSettings.create(getContext().getSystem()).withRole("trainer")));
        }
        return getContext().spawn(ActorMetrics.restarting(TrainerActor.Command.class, "trainer", trainer),
                "trainer-" + d.name(), COUNTED);
    }

    private Behavior<Command> onAddDraft(AddDraft a) {
        if (parts.factory() == null) {
            a.done().completeExceptionally(new ProblemException(new Problem.InvalidInput(null,
                    "this system has no draft factory")));
            return this;
        }
        if (names.contains(a.name()) || !adding.add(a.name())) {
            a.done().completeExceptionally(new ProblemException(new Problem.InvalidInput("name", "draft '"
                    + a.name() + "' exists already")));
            return this;
        }
        // a clone of the base draft, perhaps read from a checkpoint store: never on this actor's thread
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> parts.factory().create(a.name()), blocking),
                (draft, failure) -> new Made(a.name(), a.rule(), draft, failure, a.done()));
        return this;
    }

    private Behavior<Command> onMade(Made m) {
        adding.remove(m.name());
        if (m.failure() != null) {
            if (m.spawn()) {
                // serving goes on with the drafts it has: the cluster stays with the general draft
                getContext().getLog().warn("draft {} could not be spawned", m.name(), m.failure());
                if (router != null) {
                    router.tell(new RouterActor.RemoveDraft(m.name()));
                }
            }
            m.done().completeExceptionally(m.failure());
            return this;
        }
        if (m.spawned() != null) {
            spawned.put(m.name(), m.spawned());
            Spawned s = m.spawned();
            if (s.records() == 0) {
                getContext().getLog().info("spawned draft {} for traffic cluster {} ({}); it starts from the base "
                        + "draft (no recorded rounds of the cluster to compare starts on)", m.name(), s.cluster(),
                        s.reason());
            } else {
                getContext().getLog().info("spawned draft {} for traffic cluster {} ({}); it starts from {} "
                        + "(expected acceptance on {} recorded rounds of the cluster: base draft {}, {} {}) and "
                        + "learns from those rounds at once", m.name(), s.cluster(), s.reason(), s.startedFrom(),
                        s.records(), figure(s.baseAcceptance()), s.servedBy(), figure(s.servedByAcceptance()));
            }
        }
        try {
            spawn(m.draft());
        } catch (RuntimeException e) {
            closeOffThread(m.draft(), new CompletableFuture<>());
            m.done().completeExceptionally(e);
            return this;
        }
        if (router != null) {
            router.tell(new RouterActor.AddDraft(m.name(), m.rule()));
        }
        publish();
        m.done().complete(m.draft());
        return this;
    }

    /** Carries out what the router's spawn policy decided. */
    private Behavior<Command> onDecided(Decided d) {
        if (d.decision() instanceof SpawnPolicy.Retire r) {
            if (!spawned.containsKey(r.draft())) {
                return this;
            }
            getContext().getLog().info("retiring spawned draft {}: {}", r.draft(), r.reason());
            spawned.remove(r.draft());
            return onRetireDraft(new RetireDraft(r.draft(), new CompletableFuture<>()));
        }
        SpawnPolicy.Spawn s = (SpawnPolicy.Spawn) d.decision();
        if (parts.factory() == null || names.contains(s.draft()) || !adding.add(s.draft())) {
            return this;
        }
        Held servedBy = held.get(s.servedBy());
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> makeSpawned(s, servedBy, d.belongs()), blocking),
                (made, failure) -> new Made(s.draft(), null, made == null ? null : made.draft(), failure,
                        new CompletableFuture<>(), true, made == null ? null : made.spawned()));
        return this;
    }

    /**
     * A draft for a traffic cluster, made off the actor's thread: it starts from the base draft or from the draft
     * that served the cluster best, whichever expects the more acceptance on the cluster's recorded rounds
     * (found in that draft's replay buffer), and gets those records to learn from at once.
     */
    private SpawnMade makeSpawned(SpawnPolicy.Spawn s, Held servedBy, Predicate<String> belongs) {
        TextTokenizer tokenizer = parts.tokenizer();
        DraftTrainer source = servedBy == null ? null : servedBy.draft().trainer();
        List<DistillationRecord> records = source == null ? List.of()
                : source.buffer().matching(r -> belongs.test(tokenizer.decode(r.tokens())), SPAWN_RECORDS);
        LlamaModel base = parts.factory().base();
        double baseAcceptance = Double.NaN;
        double servedAcceptance = Double.NaN;
        ServingSystem.Draft made;
        String from = "base";
        if (base != null && servedBy != null && !records.isEmpty()) {
            baseAcceptance = Evaluation.expectedAcceptance(base, records);
            try (var lease = servedBy.draft().live().acquire()) {
                servedAcceptance = Evaluation.expectedAcceptance(lease.model(), records);
                if (servedAcceptance > baseAcceptance) {
                    from = servedBy.draft().name();
                    made = parts.factory().create(s.draft(), lease.model());
                } else {
                    made = parts.factory().create(s.draft());
                }
            }
        } else {
            made = parts.factory().create(s.draft());
        }
        if (made.trainer() != null) {
            records.forEach(made.trainer()::offer);
        }
        return new SpawnMade(made, new Spawned(s.cluster(), s.reason(), s.clusterAcceptance(),
                s.specialisedAcceptance(), s.requests(), s.servedBy(), from, baseAcceptance, servedAcceptance,
                records.size(), Instant.now()));
    }

    private static String figure(double x) {
        return Double.isNaN(x) ? "not measured" : String.format(Locale.ROOT, "%.3f", x);
    }

    private Behavior<Command> onRetireDraft(RetireDraft r) {
        Held h = held.get(r.name());
        if (h == null || h.replica() == null) {
            r.done().completeExceptionally(new ProblemException(new Problem.InvalidInput("name", "unknown draft '"
                    + r.name() + "' (or not served on this node)")));
            return this;
        }
        held.remove(r.name());
        names.remove(r.name());
        spawned.remove(r.name());
        publish();
        if (router != null) {
            router.tell(new RouterActor.RemoveDraft(r.name()));
        }
        directory.tell(new ServiceDirectory.Unfollow(r.name()));
        getContext().getSystem().receptionist().tell(Receptionist.deregister(ServiceDirectory.draftKey(r.name()),
                h.replica()));
        // requests in flight lose their proposals: they time out or hear a problem and go on target-only
        getContext().watchWith(h.replica(), new ReplicaStopped(h.pool()));
        getContext().stop(h.replica());
        if (h.trainer() != null && !parts.cluster()) {
            getContext().stop(h.trainer());
        }
        closeOffThread(h.draft(), r.done());
        return this;
    }

    /** The trainer's close waits for its running update and writes a checkpoint: on the blocking dispatcher. */
    private void closeOffThread(ServingSystem.Draft d, CompletableFuture<Void> done) {
        getContext().pipeToSelf(CompletableFuture.runAsync(() -> {
            if (d.trainer() != null) {
                d.trainer().close();
            }
            d.live().close();
        }, blocking), (x, failure) -> new Closed(d.name(), failure, done));
    }

    private Behavior<Command> onSetTraining(SetTraining t) {
        for (Held h : held.values()) {
            ServingSystem.Draft d = h.draft();
            if ((t.name() == null || d.name().equals(t.name())) && d.trainer() != null) {
                // a flag the training thread reads: quick, and effective before the caller hears back
                if (t.paused()) {
                    d.trainer().pause();
                } else {
                    d.trainer().resume();
                }
            }
        }
        directory.tell(new ServiceDirectory.TellTrainers(t.name(),
                t.paused() ? TrainerActor.Pause.INSTANCE : TrainerActor.Resume.INSTANCE));
        t.done().complete(null);
        return this;
    }

    private void publish() {
        Map<String, ServingSystem.Draft> local = new TreeMap<>();
        held.forEach((name, h) -> local.put(name, h.draft()));
        view.served = new Served(local, names, spawned);
    }
}
