package dev.osd.actors;

import ai.djl.ndarray.NDManager;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.distillation.DraftTrainer;
import dev.osd.drafts.LiveDraft;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.TextTokenizer;
import dev.osd.routing.Router;
import dev.osd.routing.RoutingRule;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * The Java API in front of the actors (what the HTTP layer and benchmarks use): start a node with some or all
 * of the roles ({@link #builder}); submit requests; receive their tokens as they are accepted and a final result
 * with its speculation figures.
 */
public final class ServingSystem implements AutoCloseable {

    /** A draft the system serves: its live versions and, when it learns online, its trainer. */
    public record Draft(String name, LiveDraft live, DraftTrainer trainer) {
    }

    /**
     * What {@code osd.serve} and {@code osd.target.max-batch} configure (the actors module's reference.conf).
     *
     * @param slots concurrent requests (cache slots of the target and of each draft); beyond, requests are refused
     * @param maxBatch most sequences in one target forward
     * @param draftTimeout how long a request waits for a proposal before going on target-only
     * @param costRatio draft forward time ÷ target verification time, for the adaptive proposal length
     * @param minK the shortest proposal the adaptive proposal length chooses
     * @param maxK the longest proposal a request gets without asking
     */
    public record Settings(int slots, int maxBatch, Duration draftTimeout, double costRatio, int minK, int maxK) {
        /** The configured settings of {@code config}. */
        public static Settings of(Config config) {
            Config s = config.getConfig("osd.serve");
            return new Settings(s.getInt("slots"), config.getInt("osd.target.max-batch"),
                    s.getDuration("draft-timeout"), s.getDouble("cost-ratio"), s.getInt("min-draft-tokens"),
                    s.getInt("max-draft-tokens"));
        }

        /** The settings of the default configuration (application.conf over the reference.conf files). */
        public static Settings defaults() {
            return of(ConfigFactory.load());
        }
    }

    /** Makes a new draft for a class added at run time (cloned from the base draft, with its trainer). */
    public interface DraftFactory {
        Draft create(String name);

        /** A new draft that starts from {@code start}'s weights; a factory that only clones the base refuses. */
        default Draft create(String name, LlamaModel start) {
            throw new UnsupportedOperationException("this draft factory only clones the base draft");
        }

        /** The base draft new drafts are cloned from, or null when the factory does not say. */
        default LlamaModel base() {
            return null;
        }
    }

    /**
     * What one node runs. {@code roles}: gateway (requests, router), target, draft (replicas), trainer.
     *
     * @param target the target model (target role), else null
     * @param targetConfig the target's configuration (every role: context, EOS)
     * @param drafts the drafts whose replicas or trainers this node runs
     * @param draftNames every draft the system serves (the gateway follows where they run)
     * @param cluster whether the node is in a Pekko Cluster (trainers become cluster singletons)
     * @param factory makes drafts added at run time, or null
     */
    record Parts(LlamaModel target, LlamaConfig targetConfig, TextTokenizer tokenizer,
            List<Draft> drafts, List<String> draftNames, Router router, Settings settings, NDManager manager,
            ServingMetrics metrics, Set<String> roles, boolean cluster,
            Consumer<DraftWeights.Received> onVersionReceived, DraftFactory factory) {
        Parts withMetrics(ServingMetrics m) {
            return new Parts(target, targetConfig, tokenizer, drafts, draftNames, router, settings, manager, m, roles,
                    cluster, onVersionReceived, factory);
        }
    }

    /** Every role: what {@code ./osd serve} runs on one node. */
    public static final Set<String> ALL_ROLES = Set.of("gateway", "target", "draft", "trainer");

    /** A submitted request: its id (for {@link #cancel}) and its result to come. */
    public record Submitted(String id, CompletionStage<RequestActor.Finished> result) {
    }

    /**
     * One request as the API takes it.
     *
     * @param deadline how long the request may take before it ends with what it has; null: no limit
     */
    public record Submission(GenerationRequest request, String query, String draft, boolean fixedK, boolean speculate,
            Duration deadline) {
        public Submission(GenerationRequest request, String query, String draft, boolean fixedK, boolean speculate) {
            this(request, query, draft, fixedK, speculate, null);
        }

        /** Speculation with the routed draft and its adaptive proposal length (at most the request's k). */
        public static Submission of(GenerationRequest request, String query) {
            return new Submission(request, query, null, false, true, null);
        }
    }

    private final ActorSystem<Void> system;
    private final NodeGuardian.Node node;
    private final AtomicLong ids = new AtomicLong();
    private final boolean canAddDrafts;
    private final LlamaModel target;
    private final LlamaConfig targetConfig;
    private volatile boolean draining;

    private ServingSystem(Builder b) {
        this.canAddDrafts = b.factory != null;
        this.target = b.target;
        this.targetConfig = b.targetConfig != null ? b.targetConfig : b.target.config();
        Config resolved = b.config == null ? ConfigFactory.load() : b.config;
        Settings settings = b.settings != null ? b.settings : Settings.of(resolved);
        List<String> draftNames = b.draftNames != null ? b.draftNames : b.drafts.stream().map(Draft::name).toList();
        boolean cluster = resolved.getString("pekko.actor.provider").equals("cluster");
        CompletableFuture<NodeGuardian.Node> started = new CompletableFuture<>();
        this.system = ActorSystem.create(NodeGuardian.create(new Parts(target, targetConfig, b.tokenizer, b.drafts,
                draftNames, b.router, settings, b.manager, null, b.roles, cluster, b.onVersionReceived, b.factory),
                started), b.name, resolved);
        this.node = started.orTimeout(30, TimeUnit.SECONDS).join();
    }

    /** The one way to start a serving system: a builder in DJL's habit ({@code set} required, {@code opt} not). */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * What one node runs: one node of a cluster (or of one machine) with some of the roles — gateway (requests,
     * router; HTTP is the caller's), target, draft (replicas), trainer (one per draft in the cluster) — or, by
     * default, all of them. The models stay the caller's.
     */
    public static final class Builder {
        private String name;
        private LlamaModel target;
        private LlamaConfig targetConfig;
        private TextTokenizer tokenizer;
        private List<Draft> drafts = List.of();
        private List<String> draftNames;
        private Router router;
        private Settings settings;
        private NDManager manager;
        private Set<String> roles = ALL_ROLES;
        private DraftFactory factory;
        private Config config;
        private Consumer<DraftWeights.Received> onVersionReceived;

        private Builder() {
        }

        /** The actor system's name. */
        public Builder setName(String name) {
            this.name = name;
            return this;
        }

        public Builder setRouter(Router router) {
            this.router = router;
            return this;
        }

        /** Where the drafts' caches and the models' arrays live. */
        public Builder setManager(NDManager manager) {
            this.manager = manager;
            return this;
        }

        /** The target model (the target role needs it); its configuration is the target's configuration. */
        public Builder optTarget(LlamaModel target) {
            this.target = target;
            return this;
        }

        /** The target's configuration (every role: context, EOS); default: the target model's. */
        public Builder optTargetConfig(LlamaConfig targetConfig) {
            this.targetConfig = targetConfig;
            return this;
        }

        /** Default: none; a node that spawns drafts for traffic clusters needs it to pick their recorded rounds. */
        public Builder optTokenizer(TextTokenizer tokenizer) {
            this.tokenizer = tokenizer;
            return this;
        }

        /** The drafts whose replicas (draft role) or trainers (trainer role) this node runs; default: none. */
        public Builder optDrafts(List<Draft> drafts) {
            this.drafts = drafts;
            return this;
        }

        /** Every draft the system serves (the gateway follows where they run); default: the drafts' names. */
        public Builder optDraftNames(List<String> draftNames) {
            this.draftNames = draftNames;
            return this;
        }

        /** Default: {@link Settings#of} the actor system's configuration. */
        public Builder optSettings(Settings settings) {
            this.settings = settings;
            return this;
        }

        /** Some of {@link #ALL_ROLES}; default: all of them. */
        public Builder optRoles(Set<String> roles) {
            this.roles = roles;
            return this;
        }

        /** Makes drafts for classes added at run time; default: none, drafts cannot be added. */
        public Builder optDraftFactory(DraftFactory factory) {
            this.factory = factory;
            return this;
        }

        /** The actor system's configuration; default: application.conf over the reference.conf files. */
        public Builder optConfig(Config config) {
            this.config = config;
            return this;
        }

        /** Told of every version a replica here received from another node; default: nobody. */
        public Builder optOnVersionReceived(Consumer<DraftWeights.Received> onVersionReceived) {
            this.onVersionReceived = onVersionReceived;
            return this;
        }

        /** Starts the actors; returns once the node's guardian has spawned them. */
        public ServingSystem start() {
            if (name == null || router == null || manager == null) {
                throw new IllegalArgumentException("a serving system needs a name, a router and a manager");
            }
            for (String r : roles) {
                if (!ALL_ROLES.contains(r)) {
                    throw new IllegalArgumentException("unknown role '" + r + "' (gateway, target, draft, trainer)");
                }
            }
            if (roles.contains("target") && target == null) {
                throw new IllegalArgumentException("the target role needs the target model");
            }
            if (target == null && targetConfig == null) {
                throw new IllegalArgumentException("a node without the target model needs the target's configuration");
            }
            return new ServingSystem(this);
        }
    }

    /**
     * Submits a request. {@code onTokens} (may be null) gets each batch of accepted tokens as it is accepted;
     * the stage completes with the result, or exceptionally when the request names an unknown draft.
     */
    public CompletionStage<RequestActor.Finished> submit(Submission s, Consumer<int[]> onTokens) {
        // an event with no tokens carries a part of echo's prompt logprobs, which this caller does not read
        return send(s, onTokens == null ? null : t -> {
            if (t.tokens().length > 0) {
                onTokens.accept(t.tokens());
            }
        }).result();
    }

    /**
     * As {@link #submit}, with the streamed tokens' log-probabilities (when asked for), and tells the request's
     * id, with which it can be cancelled.
     */
    public Submitted send(Submission s, Consumer<RequestActor.Tokens> onTokens) {
        return sendAll(List.of(s), Collections.singletonList(onTokens)).get(0);
    }

    /**
     * The generations of one request (its prompts × n), admitted whole or refused whole before any starts: when
     * they do not all fit the free slots now, every result fails at once with a {@link ProblemException}
     * ({@link Problem.Overloaded}; {@link Problem.Unavailable} while draining). {@code onTokens.get(i)} (may be
     * null) hears generation i's tokens.
     */
    public List<Submitted> sendAll(List<Submission> all, List<Consumer<RequestActor.Tokens>> onTokens) {
        if (all.size() != onTokens.size()) {
            throw new IllegalArgumentException(all.size() + " submissions, " + onTokens.size() + " listeners");
        }
        List<Submitted> out = new ArrayList<>();
        List<Gateway.Submit> generations = new ArrayList<>();
        long now = System.nanoTime();
        for (int i = 0; i < all.size(); i++) {
            Submission s = all.get(i);
            CompletableFuture<RequestActor.Finished> done = new CompletableFuture<>();
            String id = Long.toString(ids.incrementAndGet());
            generations.add(new Gateway.Submit(id, s.request(), s.query(), s.draft(), s.fixedK(), s.speculate(),
                    s.deadline(), onTokens.get(i), done, now));
            out.add(new Submitted(id, done));
        }
        if (node.gateway() == null) {
            ProblemException e = new ProblemException(new Problem.Unavailable("this node has no gateway role"));
            generations.forEach(g -> g.done().completeExceptionally(e));
        } else {
            node.gateway().tell(new Gateway.Admit(List.copyOf(generations)));
        }
        return out;
    }

    /**
     * Stops admitting requests (they fail with {@link Problem.Unavailable}, readiness goes false) and completes
     * when every request in flight has ended.
     */
    public CompletionStage<Void> drain() {
        draining = true;
        CompletableFuture<Void> drained = new CompletableFuture<>();
        if (node.gateway() == null) {
            drained.complete(null);
        } else {
            node.gateway().tell(new Gateway.Drain(drained));
        }
        return drained;
    }

    /** Whether {@link #drain} was called: the node finishes what it runs and takes nothing new. */
    public boolean draining() {
        return draining;
    }

    /** Ends every request in flight now, each answered with {@code problem} (a drain's grace period is over). */
    public void abortAll(Problem problem) {
        draining = true;
        if (node.gateway() != null) {
            node.gateway().tell(new Gateway.AbortAll(problem));
        }
    }

    /** Ends a request early (a client went away); it answers with what it has. */
    public void cancel(String id) {
        if (node.gateway() != null) {
            node.gateway().tell(new Gateway.Cancel(id));
        }
    }

    /** The drafts this node holds (replicas or trainers), by name. */
    public Map<String, Draft> drafts() {
        return node.served().get().local();
    }

    /** Every draft the system serves, wherever its replicas run. */
    public SortedSet<String> draftNames() {
        return node.served().get().names();
    }

    /** The drafts this node spawned for traffic clusters, and why. */
    public Map<String, DraftLifecycle.Spawned> spawnedDrafts() {
        return node.served().get().spawned();
    }

    /** The target model when this node has the target role, else null. */
    public LlamaModel target() {
        return target;
    }

    public LlamaConfig targetConfig() {
        return targetConfig;
    }

    public ServingMetrics metrics() {
        return node.metrics();
    }

    public boolean canAddDrafts() {
        return canAddDrafts;
    }

    /**
     * Serves a new draft for a new class, made by the system's draft factory (a clone of the base draft that
     * starts learning on the traffic {@code rule} routes to it).
     */
    public CompletionStage<Draft> addDraft(String name, RoutingRule rule) {
        CompletableFuture<Draft> done = new CompletableFuture<>();
        node.drafts().tell(new DraftLifecycle.AddDraft(name, rule, done));
        return done;
    }

    /** Stops serving a draft and frees it; requests in flight with it finish target-only. */
    public CompletionStage<Void> retireDraft(String name) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        node.drafts().tell(new DraftLifecycle.RetireDraft(name, done));
        return done;
    }

    /**
     * Pauses (or resumes) the training of one draft, or of all when {@code name} is null: trainers on this node
     * before the stage completes, trainers on other nodes through a message.
     */
    public CompletionStage<Void> setTraining(String name, boolean paused) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        node.drafts().tell(new DraftLifecycle.SetTraining(name, paused, done));
        return done;
    }

    /** A member of the cluster as this node sees it. */
    public record Member(String address, Set<String> roles, String status) {
    }

    /** The cluster's members (this node alone outside a cluster) and where each service runs. */
    public record ClusterView(String self, List<Member> members, List<String> unreachable,
            Map<String, List<String>> services) {
    }

    public ClusterView clusterView() {
        Map<String, List<String>> services = readiness().placements();
        String self = system.address().toString();
        if (!system.settings().config().getString("pekko.actor.provider").equals("cluster")) {
            return new ClusterView(self, List.of(new Member(self, ALL_ROLES, "Up")), List.of(), services);
        }
        ClusterEvent.CurrentClusterState state = Cluster.get(system).state();
        List<Member> members = new ArrayList<>();
        for (var m : state.getMembers()) {
            Set<String> roles = new TreeSet<>(m.getRoles());
            roles.removeIf(r -> r.startsWith("dc-"));
            members.add(new Member(m.address().toString(), roles, m.status().toString()));
        }
        List<String> unreachable = new ArrayList<>();
        for (var m : state.getUnreachable()) {
            unreachable.add(m.address().toString());
        }
        return new ClusterView(self, members, unreachable, services);
    }

    /** How many targets and draft replicas this node can reach now. */
    public ServiceDirectory.Readiness readiness() {
        return readinessAsync().toCompletableFuture().join();
    }

    /** As {@link #readiness}, for a caller that must not block (a route). */
    public CompletionStage<ServiceDirectory.Readiness> readinessAsync() {
        return AskPattern.<ServiceDirectory.Command, ServiceDirectory.Readiness>ask(node.directory(),
                ServiceDirectory.GetReadiness::new, Duration.ofSeconds(5), system.scheduler());
    }

    /** The target actor's batching figures so far. */
    public TargetActor.Stats targetStats() {
        return AskPattern.<ServiceDirectory.Command, TargetActor.Stats>ask(node.directory(),
                ServiceDirectory.GetTargetStats::new, Duration.ofSeconds(5), system.scheduler())
                .toCompletableFuture().join();
    }

    public ActorSystem<Void> actorSystem() {
        return system;
    }

    @Override
    public void close() {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().join();
    }
}
