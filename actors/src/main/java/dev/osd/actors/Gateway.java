package dev.osd.actors;

import dev.osd.engine.GenerationRequest;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.ServingBackend;
import dev.osd.engine.SpeculationRound;
import dev.osd.routing.Router;
import dev.osd.routing.RoutingRule;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.MailboxSelector;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.ClusterSingletonSettings;
import org.apache.pekko.cluster.typed.SingletonActor;

/**
 * The guardian of one node: spawns what the node's roles need — the target actor (target), a replica and a
 * version receiver per draft (draft), a trainer per draft with its version publisher (trainer; a Cluster
 * Singleton in a cluster), the router (gateway) — and registers them with the Receptionist. On a gateway it
 * follows the listings of targets, draft replicas and trainers, and for every submitted request asks the
 * {@link RouterActor} for a draft and spawns a {@link RequestActor} on a listed target and replica (and finds
 * the request another target if its own goes). When a request ends, the router learns the acceptance its
 * draft achieved.
 */
public final class Gateway extends AbstractBehavior<Gateway.Command> {

    /** Prior growth of verification time per extra row, relative to one row (measured: ~0.3 on a CPU). */
    private static final double VERIFICATION_SLOPE_PRIOR = 0.3;

    public static final ServiceKey<TargetActor.Command> TARGET_KEY = ServiceKey.create(TargetActor.Command.class,
            "osd-target");

    public static ServiceKey<DraftActor.Command> draftKey(String draft) {
        return ServiceKey.create(DraftActor.Command.class, "osd-draft-" + draft);
    }

    /** Local: the gateway's commands carry callbacks and futures of the JVM that submits. */
    public sealed interface Command extends LocalOnly {
    }

    /**
     * One generation of a request from the Java API (local: it carries the caller's callbacks); submitted alone,
     * it is a request of one generation.
     *
     * @param query the text the router classifies
     * @param requestedDraft the draft the request names, or null
     * @param fixedK whether the request fixed its proposal length (else the draft's adaptive k applies)
     * @param speculate false for target-only decoding
     */
    public record Submit(String id, GenerationRequest request, String query, String requestedDraft, boolean fixedK,
            boolean speculate, Duration deadline, Consumer<RequestActor.Tokens> onTokens,
            CompletableFuture<RequestActor.Finished> done, long submittedNanos)
            implements Command {
    }

    /**
     * The generations of one request (its prompts × n), admitted whole or refused whole before any starts: each
     * takes a cache slot until it ends, and a request that needs more slots than are free is refused at once
     * with {@link Problem.Overloaded}, one that needs more than there are with {@link Problem.InvalidInput}.
     */
    public record Admit(List<Submit> generations) implements Command {
    }

    /** Stop admitting (new requests: {@link Problem.Unavailable}); {@code drained} completes when none runs. */
    public record Drain(CompletableFuture<Void> drained) implements Command {
    }

    /** Ends every running request at once, answering each with {@code problem} (a drain past its grace). */
    public record AbortAll(Problem problem) implements Command {
    }

    private record Routed(Submit submit, RouterActor.Routed routed) implements Command {
    }

    /** A generation answered its caller: its slot is free (told before the caller hears, so a next request fits). */
    private record Ended(String id) implements Command {
    }

    private record RequestGone(Submit submit) implements Command {
    }

    /** What the Receptionist lists for a key the gateway follows. */
    private record Listed(Receptionist.Listing listing) implements Command {
    }

    private record RequestUnanswered(Submit submit) implements Command {
    }

    /** A retired draft's actor has stopped: its cache pool can go. */
    private record DraftStopped(KvCachePool pool) implements Command {
    }

    /** The target actor's batching figures. */
    public record GetTargetStats(ActorRef<TargetActor.Stats> replyTo) implements Command {
    }

    /** Stops a request early; it answers with what it has. Unknown or finished ids are ignored. */
    public record Cancel(String id) implements Command {
    }

    /** Serves a new draft (local: it carries the draft's weights); {@code rule} routes its class, may be null. */
    public record AddDraft(ServingSystem.Draft draft, RoutingRule rule,
            CompletableFuture<ServingSystem.Draft> done) implements Command {
    }

    /** Stops serving a draft: its requests in flight go on target-only. */
    public record RetireDraft(String name, CompletableFuture<ServingSystem.Draft> done) implements Command {
    }

    /** Pauses or resumes the trainers of drafts this node holds no trainer of ({@code name} null: all of them). */
    public record SetTraining(String name, boolean paused) implements Command {
    }

    /** A request lost its target: another listed one, please (not {@code lost}). */
    public record ReplaceTarget(ActorRef<TargetActor.Command> lost, ActorRef<TargetFound> replyTo) implements Command {
    }

    /** @param target another target, or null when none is reachable */
    public record TargetFound(ActorRef<TargetActor.Command> target) implements LocalOnly {
    }

    /** How many targets and replicas of each draft the gateway can reach. */
    public record GetReadiness(ActorRef<Readiness> replyTo) implements Command {
    }

    /**
     * @param placements each service (target, draft-NAME, trainer-NAME) and the addresses of the nodes that hold
     *     an instance of it, as the Receptionist lists them
     */
    public record Readiness(int targets, Map<String, Integer> draftReplicas, Map<String, List<String>> placements)
            implements LocalOnly {
    }

    public static ServiceKey<TrainerActor.Command> trainerKey(String draft) {
        return ServiceKey.create(TrainerActor.Command.class, "osd-trainer-" + draft);
    }

    static final String DRAFT_KV_CACHE_MEMORY = "osd.draft.kv-cache-memory";

    private final ServingSystem.Parts parts;
    private final ActorRef<TargetActor.Command> target;
    private final ActorRef<RouterActor.Command> router;
    private final Map<String, ActorRef<DraftActor.Command>> drafts = new HashMap<>();
    private final Map<String, ActorRef<TrainerActor.Command>> trainers = new HashMap<>();
    private final Map<String, AdaptiveProposalLength> proposalLengths = new HashMap<>();
    private final Map<String, Integer> draftCapacity = new HashMap<>();
    private final Map<String, KvCachePool> pools = new HashMap<>();
    // replicas as the Receptionist lists them (on one node: the ones spawned here; in a cluster: every node's)
    private List<ActorRef<TargetActor.Command>> targets = List.of();
    private final Map<String, List<ActorRef<DraftActor.Command>>> replicas = new HashMap<>();
    private final Map<String, List<ActorRef<TrainerActor.Command>>> listedTrainers = new HashMap<>();
    // every draft this system serves, wherever its replicas run
    private final Set<String> known = new TreeSet<>();
    // targets requests saw go (the Receptionist may still list them for a moment)
    private final Set<ActorRef<TargetActor.Command>> lostTargets = new HashSet<>();
    private long picks;
    // generations admitted and not yet ended (what admission counts against the slots), with their callers' results
    private final Map<String, CompletableFuture<RequestActor.Finished>> running = new HashMap<>();
    private boolean draining;
    private Problem aborted;

    static Behavior<Command> create(ServingSystem.Parts parts) {
        return Behaviors.setup(ctx -> new Gateway(ctx, parts));
    }

    private Gateway(ActorContext<Command> ctx, ServingSystem.Parts parts) {
        super(ctx);
        this.parts = parts;
        ServingSystem.Settings s = parts.settings();
        listings = ctx.messageAdapter(Receptionist.Listing.class, Listed::new);
        if (parts.roles().contains("target")) {
            target = ctx.spawn(ActorMetrics.measured(TargetActor.Command.class, "target",
                    TargetActor.create(parts.target(), s.slots(), s.maxBatch(), TARGET_KEY,
                    pool -> parts.metrics().kvCache("target", pool))), "target", TARGET_MODELS);
        } else {
            target = null;
        }
        if (parts.roles().contains("gateway")) {
            router = ctx.spawn(ActorMetrics.measured(RouterActor.Command.class, "router",
                    RouterActor.create(parts.router())), "router", COUNTED);
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(TARGET_KEY, listings));
        } else {
            router = null;
        }
        for (ServingSystem.Draft d : parts.drafts()) {
            spawnDraft(d);
        }
        for (String name : parts.draftNames()) {
            follow(name);
        }
    }

    /** The gateway follows where a draft's replicas and its trainer are, and keeps its adaptive k. */
    private void follow(String name) {
        if (!parts.roles().contains("gateway") || !known.add(name)) {
            return;
        }
        ServingSystem.Settings s = parts.settings();
        getContext().getSystem().receptionist().tell(Receptionist.subscribe(draftKey(name), listings));
        getContext().getSystem().receptionist().tell(Receptionist.subscribe(trainerKey(name), listings));
        // verification cost grows with the rows scored (bench engine: 6 rows cost ~2.6 decodes on the CPU forward);
        // the line fitted to what requests measure replaces this prior once two lengths were served
        proposalLengths.put(name, new AdaptiveProposalLength(s.minK(), s.maxK(), 0.5, s.costRatio(), 0.05,
                VERIFICATION_SLOPE_PRIOR));
    }

    /** The target and the drafts run on model dispatchers of their own; every serving actor's mailbox is counted. */
    private static final Props TARGET_MODELS = MailboxSelector.fromConfig(ActorMetrics.MAILBOX)
            .withDispatcherFromConfig("osd.target-dispatcher");
    private static final Props DRAFT_MODELS = MailboxSelector.fromConfig(ActorMetrics.MAILBOX)
            .withDispatcherFromConfig("osd.draft-dispatcher");
    private static final Props COUNTED = MailboxSelector.fromConfig(ActorMetrics.MAILBOX);

    private final ActorRef<Receptionist.Listing> listings;

    /**
     * What this node runs of a draft: a replica (restarted when it fails) with the receiver of new versions
     * (draft role), and its trainer with the publisher of new versions (trainer role; one in the whole cluster,
     * a Cluster Singleton, when the node is in a cluster).
     */
    private void spawnDraft(ServingSystem.Draft d) {
        ServingSystem.Settings s = parts.settings();
        ActorContext<Command> ctx = getContext();
        if (parts.roles().contains("draft")) {
            try (var lease = d.live().acquire()) {
                LlamaModel shape = lease.model();
                KvCachePool pool = KvCachePool.forBudget(shape.config(), s.slots(),
                        TargetActor.contextLimit(ctx.getSystem().settings().config(), parts.targetConfig()),
                        ctx.getSystem().settings().config().getBytes(DRAFT_KV_CACHE_MEMORY), parts.manager(),
                        ServingBackend.current());
                parts.metrics().kvCache(d.name(), pool);
                draftCapacity.put(d.name(), pool.positions());
                // a replica that fails is restarted; requests it served go on (its answers time out or come back
                // with a problem, and they continue target-only)
                ActorRef<DraftActor.Command> ref = ctx.spawn(ActorMetrics.restarting(DraftActor.Command.class, "draft",
                        DraftActor.create(d.name(), d.live(), pool, draftKey(d.name()))), "draft-" + d.name(),
                        DRAFT_MODELS);
                drafts.put(d.name(), ref);
                pools.put(d.name(), pool);
                ctx.spawn(DraftWeights.receiver(d.name(), d.live(), shape.config(), parts.manager(),
                        parts.onVersionReceived()), "weights-" + d.name());
            }
        }
        if (parts.roles().contains("trainer") && d.trainer() != null) {
            Behavior<TrainerActor.Command> trainer = Behaviors.setup(tctx -> {
                // a trainer that starts here (first, or taking over from another node) learns from the newest
                // version this node's replica holds
                d.trainer().resync();
                tctx.spawn(DraftWeights.publisher(d.name(), d.live(), Duration.ofSeconds(1)), "weights");
                tctx.getSystem().receptionist().tell(Receptionist.register(trainerKey(d.name()), tctx.getSelf()));
                return TrainerActor.create(d.trainer());
            });
            ActorRef<TrainerActor.Command> ref;
            if (parts.cluster()) {
                ref = ClusterSingleton.get(ctx.getSystem()).init(
                        SingletonActor.of(ActorMetrics.restarting(
                                TrainerActor.Command.class, "trainer", trainer), "trainer-" + d.name())
                                .withSettings(ClusterSingletonSettings.create(
                                        ctx.getSystem()).withRole("trainer")));
            } else {
                ref = ctx.spawn(ActorMetrics.restarting(TrainerActor.Command.class, "trainer", trainer),
                        "trainer-" + d.name(), COUNTED);
            }
            trainers.put(d.name(), ref);
        }
        follow(d.name());
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Submit.class, s -> onAdmit(new Admit(List.of(s))))
                .onMessage(Admit.class, this::onAdmit)
                .onMessage(Ended.class, e -> {
                    release(e.id());
                    return this;
                })
                .onMessage(Drain.class, this::onDrain)
                .onMessage(AbortAll.class, this::onAbortAll)
                .onMessage(Routed.class, this::onRouted)
                .onMessage(RequestGone.class, this::onRequestGone)
                .onMessage(Listed.class, this::onListed)
                .onMessage(RequestUnanswered.class, this::onRequestUnanswered)
                .onMessage(GetTargetStats.class, g -> {
                    ActorRef<TargetActor.Command> t = pick(targets, target);
                    if (t != null) {
                        t.tell(new TargetActor.GetStats(g.replyTo()));
                    }
                    return this;
                })
                .onMessage(Cancel.class, this::onCancel)
                .onMessage(AddDraft.class, this::onAddDraft)
                .onMessage(RetireDraft.class, this::onRetireDraft)
                .onMessage(GetReadiness.class, this::onGetReadiness)
                .onMessage(SetTraining.class, t -> {
                    for (String name : known) {
                        if ((t.name() == null || t.name().equals(name)) && !trainers.containsKey(name)) {
                            // the trainer is a singleton elsewhere: each listed ref reaches it
                            for (ActorRef<TrainerActor.Command> ref : listedTrainers.getOrDefault(name, List.of())) {
                                ref.tell(t.paused() ? TrainerActor.Pause.INSTANCE : TrainerActor.Resume.INSTANCE);
                            }
                        }
                    }
                    return this;
                })
                .onMessage(ReplaceTarget.class, r -> {
                    lostTargets.add(r.lost());
                    List<ActorRef<TargetActor.Command>> others = targets.stream()
                            .filter(t -> !lostTargets.contains(t)).toList();
                    r.replyTo().tell(new TargetFound(others.isEmpty() ? null : pick(others, null)));
                    return this;
                })
                .onMessage(DraftStopped.class, d -> {
                    d.pool().close();
                    return this;
                })
                .build();
    }

    private Behavior<Command> onAdmit(Admit a) {
        List<Submit> all = a.generations();
        Problem refused = admission(all);
        if (refused != null) {
            ProblemException e = new ProblemException(refused);
            all.forEach(s -> s.done().completeExceptionally(e));
            return this;
        }
        all.forEach(s -> running.put(s.id(), s.done()));
        all.forEach(s -> parts.metrics().admitted(s.id(), s.submittedNanos()));
        all.forEach(this::route);
        return this;
    }

    /** Why these generations cannot start now, or null when they all can. */
    private Problem admission(List<Submit> all) {
        if (draining) {
            return new Problem.Unavailable("this server is shutting down and admits no new requests");
        }
        if (router == null) {
            return new Problem.Unavailable("this node has no gateway role");
        }
        // the model's, or osd.target.max-context, within what the target's key/value memory holds
        int context = TargetActor.contextLimit(getContext().getSystem().settings().config(), parts.targetConfig());
        for (Submit s : all) {
            int prompt = s.request().prompt().length;
            // compared as room left, never as a sum that could overflow
            if (prompt >= context || s.request().maxTokens() > context - prompt) {
                return new Problem.ContextExhausted("max_tokens", "a prompt of " + prompt + " tokens and max_tokens "
                        + s.request().maxTokens() + " exceed the served context of " + context + " tokens");
            }
        }
        int slots = capacity();
        if (all.size() > slots) {
            return new Problem.InvalidInput("n", "the request needs " + all.size() + " generations at once "
                    + "(prompts × n); this server runs at most " + slots);
        }
        int free = slots - running.size();
        if (all.size() > free) {
            return new Problem.Overloaded("the request needs " + all.size() + " of " + slots + " slots, "
                    + Math.max(free, 0) + " are free");
        }
        return null;
    }

    /** Cache slots of the targets this gateway reaches (each target holds {@code slots}). */
    private int capacity() {
        long reachable = targets.stream().filter(t -> !lostTargets.contains(t)).count();
        return parts.settings().slots() * (int) Math.max(1, reachable);
    }

    private void release(String id) {
        running.remove(id);
        parts.metrics().released(id);
    }

    private Behavior<Command> onDrain(Drain d) {
        draining = true;
        // drained once every caller has its answer (not merely once the slots are free: those free first)
        CompletableFuture.allOf(running.values().toArray(CompletableFuture[]::new))
                .whenComplete((x, failure) -> d.drained().complete(null));
        return this;
    }

    private Behavior<Command> onAbortAll(AbortAll a) {
        draining = true;
        aborted = a.problem();
        for (String id : running.keySet()) {
            getContext().getChild("request-" + id).ifPresent(child ->
                    child.<RequestActor.Command>unsafeUpcast().tell(new RequestActor.Abort(a.problem())));
        }
        return this;
    }

    private void route(Submit s) {
        if (!s.speculate()) {
            onRouted(new Routed(s, new RouterActor.Routed(new Router.Route(null, null, Router.Reason.NONE), null)));
            return;
        }
        getContext().ask(RouterActor.Routed.class, router, Duration.ofSeconds(1),
                replyTo -> new RouterActor.Route(s.query(), s.requestedDraft(), replyTo),
                (routed, failure) -> new Routed(s, routed != null ? routed
                        // a router that does not answer costs speculation, never the request
                        : new RouterActor.Routed(new Router.Route(null, null, Router.Reason.NONE), null)));
    }

    private Behavior<Command> onRouted(Routed r) {
        Submit s = r.submit();
        if (aborted != null) {
            release(s.id());
            s.done().completeExceptionally(new ProblemException(aborted));
            return this;
        }
        if (r.routed().problem() != null) {
            release(s.id());
            s.done().completeExceptionally(new ProblemException(new Problem.InvalidInput("speculation.draft",
                    r.routed().problem())));
            return this;
        }
        Router.Route route = r.routed().route();
        ActorRef<TargetActor.Command> chosenTarget = pick(targets.stream().filter(t -> !lostTargets.contains(t))
                .toList(), target);
        if (chosenTarget == null) {
            release(s.id());
            s.done().completeExceptionally(new ProblemException(new Problem.Unavailable("no target is reachable")));
            return this;
        }
        String draft = route.draft() != null && available(route.draft()) ? route.draft() : null;
        ActorRef<TrainerActor.Command> trainer = draft == null ? null
                : trainers.getOrDefault(draft, pick(listedTrainers.get(draft), null));
        Consumer<SpeculationRound> feed = trainer == null ? null : round -> trainer.tell(new TrainerActor.Round(round));
        long[] firstToken = {-1};
        long[] lastTokens = {-1};
        boolean speculating = draft != null;
        ActorRef<Command> gateway = getContext().getSelf();
        ActorRef<RequestActor.Event> client = getContext().spawnAnonymous(Behaviors.receive(RequestActor.Event.class)
                .onMessage(RequestActor.Tokens.class, t -> {
                    long at = System.nanoTime();
                    if (firstToken[0] < 0) {
                        firstToken[0] = at;
                    } else {
                        parts.metrics().interToken(speculating, (at - lastTokens[0]) / 1e9);
                    }
                    lastTokens[0] = at;
                    if (s.onTokens() != null) {
                        s.onTokens().accept(t);
                    }
                    return Behaviors.same();
                })
                .onMessage(RequestActor.Finished.class, f -> {
                    if (f.draft() != null) {
                        router.tell(new RouterActor.Observe(s.query(), f.draft(), f.result().stats().tokenAcceptance()));
                    }
                    RequestActor.Finished answered = f.withQueryClass(route.queryClass());
                    long now = System.nanoTime();
                    gateway.tell(new Ended(s.id()));
                    try {
                        parts.metrics().record(answered, s.submittedNanos(), firstToken[0] < 0 ? now : firstToken[0],
                                now);
                    } catch (RuntimeException e) {
                        // a figure that cannot be recorded never costs the caller its answer
                        getContext().getLog().error("request {} could not be recorded in the metrics", s.id(), e);
                    }
                    s.done().complete(answered);
                    return Behaviors.stopped();
                })
                .build());
        ActorRef<RequestActor.Command> request;
        try {
            // the request keeps the target and draft replica it starts with: they hold its caches
            request = getContext().spawn(ActorMetrics.measured(RequestActor.Command.class, "request",
                    RequestActor.create(s.id(), s.request(), parts.tokenizer(),
                    parts.targetConfig().eosTokenId(),
                    TargetActor.contextLimit(getContext().getSystem().settings().config(), parts.targetConfig()),
                    chosenTarget, draft == null ? null : pick(replicas.get(draft), drafts.get(draft)), draft,
                    draft == null ? 0 : draftCapacity.getOrDefault(draft, parts.targetConfig().maxPositionEmbeddings()),
                    feed, draft == null || s.fixedK() ? null : proposalLengths.get(draft),
                    parts.settings().draftTimeout(), s.deadline(), client, getContext().getSelf())),
                    "request-" + s.id(), COUNTED);
        } catch (RuntimeException e) {
            getContext().stop(client);
            release(s.id());
            s.done().completeExceptionally(e);
            return this;
        }
        parts.metrics().started(s.id(), System.nanoTime());
        // a request actor that dies without answering still answers its caller: nothing is lost silently
        getContext().watchWith(request, new RequestGone(s));
        return this;
    }

    private Behavior<Command> onListed(Listed l) {
        Receptionist.Listing listing = l.listing();
        if (listing.isForKey(TARGET_KEY)) {
            targets = List.copyOf(listing.getServiceInstances(TARGET_KEY));
            lostTargets.retainAll(targets);
            return this;
        }
        for (String name : known) {
            if (listing.isForKey(draftKey(name))) {
                replicas.put(name, List.copyOf(listing.getServiceInstances(draftKey(name))));
            } else if (listing.isForKey(trainerKey(name))) {
                listedTrainers.put(name, List.copyOf(listing.getServiceInstances(trainerKey(name))));
            }
        }
        return this;
    }

    /** Whether a draft has a replica to propose: one the Receptionist lists, or this node's own. */
    private boolean available(String draft) {
        List<ActorRef<DraftActor.Command>> listed = replicas.get(draft);
        return (listed != null && !listed.isEmpty()) || drafts.containsKey(draft);
    }

    /** A listed instance, in turn; the one spawned here until the Receptionist has listed any. */
    private <T> ActorRef<T> pick(List<ActorRef<T>> listed, ActorRef<T> local) {
        if (listed == null || listed.isEmpty()) {
            return local;
        }
        if (local != null && listed.contains(local) && listed.size() == 1) {
            return local;
        }
        return listed.get((int) (picks++ % listed.size()));
    }

    private Behavior<Command> onCancel(Cancel c) {
        getContext().getChild("request-" + c.id()).ifPresent(child ->
                child.<RequestActor.Command>unsafeUpcast().tell(RequestActor.Cancel.INSTANCE));
        return this;
    }

    private Behavior<Command> onAddDraft(AddDraft a) {
        String name = a.draft().name();
        if (drafts.containsKey(name)) {
            a.done().completeExceptionally(new ProblemException(new Problem.InvalidInput("name", "draft '" + name
                    + "' exists already")));
            return this;
        }
        try {
            spawnDraft(a.draft());
        } catch (RuntimeException e) {
            a.done().completeExceptionally(e);
            return this;
        }
        if (router != null) {
            router.tell(new RouterActor.AddDraft(name, a.rule()));
        }
        a.done().complete(a.draft());
        return this;
    }

    private Behavior<Command> onRetireDraft(RetireDraft r) {
        ActorRef<DraftActor.Command> ref = drafts.remove(r.name());
        if (ref == null) {
            r.done().completeExceptionally(new ProblemException(new Problem.InvalidInput("name", "unknown draft '"
                    + r.name() + "' (or not served on this node)")));
            return this;
        }
        known.remove(r.name());
        if (router != null) {
            router.tell(new RouterActor.RemoveDraft(r.name()));
        }
        getContext().getSystem().receptionist().tell(Receptionist.deregister(draftKey(r.name()), ref));
        // requests in flight lose their proposals: they time out or hear a problem and go on target-only
        getContext().stop(ref);
        getContext().watchWith(ref, new DraftStopped(pools.get(r.name())));
        ActorRef<TrainerActor.Command> trainer = trainers.remove(r.name());
        if (trainer != null) {
            getContext().stop(trainer);
        }
        replicas.remove(r.name());
        proposalLengths.remove(r.name());
        draftCapacity.remove(r.name());
        pools.remove(r.name());
        r.done().complete(null);
        return this;
    }

    private Behavior<Command> onGetReadiness(GetReadiness g) {
        Map<String, Integer> counts = new TreeMap<>();
        Map<String, List<String>> placements = new TreeMap<>();
        placements.put("target", addresses(targets.isEmpty() && target != null ? List.of(target) : targets));
        for (String name : known) {
            List<ActorRef<DraftActor.Command>> listed = replicas.getOrDefault(name, List.of());
            counts.put(name, listed.size());
            placements.put("draft-" + name, addresses(listed));
            placements.put("trainer-" + name, addresses(listedTrainers.getOrDefault(name, List.of())));
        }
        g.replyTo().tell(new Readiness(targets.size(), counts, placements));
        return this;
    }

    private String addressOf(ActorRef<?> ref) {
        Address a = ref.path().address();
        return a.hasLocalScope() ? getContext().getSystem().address().toString() : a.toString();
    }

    private List<String> addresses(List<? extends ActorRef<?>> refs) {
        return refs.stream().map(this::addressOf).distinct().sorted().toList();
    }

    private Behavior<Command> onRequestGone(RequestGone gone) {
        release(gone.submit().id());
        if (!gone.submit().done().isDone()) {
            // its last answer may still be on its way to the caller's adapter: look again in a moment
            getContext().scheduleOnce(Duration.ofSeconds(1), getContext().getSelf(),
                    new RequestUnanswered(gone.submit()));
        }
        return this;
    }

    private Behavior<Command> onRequestUnanswered(RequestUnanswered u) {
        u.submit().done().completeExceptionally(new ProblemException(new Problem.Internal("request "
                + u.submit().id() + " stopped before it finished")));
        return this;
    }
}
