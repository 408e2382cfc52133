package dev.osd.actors;

import ai.djl.ndarray.NDManager;
import dev.osd.distillation.DraftTrainer;
import dev.osd.drafts.LiveDraft;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.TextTokenizer;
import dev.osd.routing.Router;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The Java API in front of the actors (what the HTTP layer and benchmarks use): start a one-node serving
 * system over a target, its drafts and a router; submit requests; receive their tokens as they are accepted
 * and a final result with its speculation figures.
 */
public final class ServingSystem implements AutoCloseable {

    /** A draft the system serves: its live versions and, when it learns online, its trainer. */
    public record Draft(String name, LiveDraft live, DraftTrainer trainer) {
    }

    /**
     * @param slots concurrent requests (cache slots of the target and of each draft); beyond, requests are refused
     * @param maxBatch most sequences in one target forward
     * @param draftTimeout how long a request waits for a proposal before going on target-only
     * @param costRatio draft forward time ÷ target verification time, for the adaptive proposal length
     */
    public record Settings(int slots, int maxBatch, Duration draftTimeout, double costRatio, int minK, int maxK) {
        public static Settings defaults() {
            return new Settings(32, 16, Duration.ofSeconds(2), 0.1, 1, 8);
        }
    }

    /** Makes a new draft for a class added at run time (cloned from the base draft, with its trainer). */
    public interface DraftFactory {
        Draft create(String name);
    }

    record Parts(LlamaModel target, TextTokenizer tokenizer, List<Draft> drafts, Router router, Settings settings,
            NDManager manager, ServingMetrics metrics) {
    }

    /** A submitted request: its id (for {@link #cancel}) and its result to come. */
    public record Submitted(String id, CompletionStage<RequestActor.Finished> result) {
    }

    /** One request as the API takes it. */
    /** @param deadline how long the request may take before it ends with what it has; null: no limit */
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

    private final ActorSystem<Gateway.Command> system;
    private final AtomicLong ids = new AtomicLong();
    private final Map<String, Draft> drafts = new ConcurrentSkipListMap<>();
    private final DraftFactory factory;
    private final ServingMetrics metrics;
    private final LlamaModel target;

    private ServingSystem(String name, LlamaModel target, TextTokenizer tokenizer, List<Draft> drafts, Router router,
            Settings settings, NDManager manager, DraftFactory factory, com.typesafe.config.Config config) {
        for (Draft d : drafts) {
            this.drafts.put(d.name(), d);
        }
        this.factory = factory;
        this.target = target;
        // the actor metrics extension belongs to the actor system: the registry is made once that exists
        CompletableFuture<ServingMetrics> m = new CompletableFuture<>();
        this.system = ActorSystem.create(Behaviors.setup(ctx -> {
            ServingMetrics made = new ServingMetrics(this.drafts::values, ActorMetrics.of(ctx.getSystem()));
            m.complete(made);
            return ActorMetrics.measured(Gateway.Command.class, "gateway",
                    Gateway.create(new Parts(target, tokenizer, drafts, router, settings, manager, made)));
        }), name, config == null ? com.typesafe.config.ConfigFactory.load() : config);
        this.metrics = m.orTimeout(30, java.util.concurrent.TimeUnit.SECONDS).join();
    }

    /** Starts the actors; the models stay the caller's. */
    public static ServingSystem start(String name, LlamaModel target, TextTokenizer tokenizer, List<Draft> drafts,
            Router router, Settings settings, NDManager manager) {
        return start(name, target, tokenizer, drafts, router, settings, manager, null);
    }

    /** @param factory makes drafts for classes added at run time; null: drafts cannot be added */
    public static ServingSystem start(String name, LlamaModel target, TextTokenizer tokenizer, List<Draft> drafts,
            Router router, Settings settings, NDManager manager, DraftFactory factory) {
        return start(name, target, tokenizer, drafts, router, settings, manager, factory, null);
    }

    /** @param config the actor system's configuration (null: the default, application.conf over reference.conf) */
    public static ServingSystem start(String name, LlamaModel target, TextTokenizer tokenizer, List<Draft> drafts,
            Router router, Settings settings, NDManager manager, DraftFactory factory, com.typesafe.config.Config config) {
        return new ServingSystem(name, target, tokenizer, drafts, router, settings, manager, factory, config);
    }

    /**
     * Submits a request. {@code onTokens} (may be null) gets each batch of accepted tokens as it is accepted;
     * the stage completes with the result, or exceptionally when the request names an unknown draft.
     */
    public CompletionStage<RequestActor.Finished> submit(Submission s, Consumer<int[]> onTokens) {
        return send(s, onTokens == null ? null : t -> onTokens.accept(t.tokens())).result();
    }

    /**
     * As {@link #submit}, with the streamed tokens' log-probabilities (when asked for), and tells the request's
     * id, with which it can be cancelled.
     */
    public Submitted send(Submission s, Consumer<RequestActor.Tokens> onTokens) {
        CompletableFuture<RequestActor.Finished> done = new CompletableFuture<>();
        String id = Long.toString(ids.incrementAndGet());
        system.tell(new Gateway.Submit(id, s.request(), s.query(), s.draft(), s.fixedK(), s.speculate(), s.deadline(),
                onTokens, done, System.nanoTime()));
        return new Submitted(id, done);
    }

    /** Ends a request early (a client went away); it answers with what it has. */
    public void cancel(String id) {
        system.tell(new Gateway.Cancel(id));
    }

    /** The drafts served now, by name. */
    public Map<String, Draft> drafts() {
        return Map.copyOf(drafts);
    }

    public LlamaModel target() {
        return target;
    }

    public ServingMetrics metrics() {
        return metrics;
    }

    public boolean canAddDrafts() {
        return factory != null;
    }

    /**
     * Serves a new draft for a new class, made by the system's draft factory (a clone of the base draft that
     * starts learning on the traffic {@code rule} routes to it).
     */
    public CompletionStage<Draft> addDraft(String name, dev.osd.routing.RoutingRule rule) {
        if (factory == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("this system has no draft factory"));
        }
        if (drafts.containsKey(name)) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("draft '" + name + "' exists already"));
        }
        Draft d = factory.create(name);
        CompletableFuture<Draft> done = new CompletableFuture<>();
        system.tell(new Gateway.AddDraft(d, rule, done));
        return done.whenComplete((added, failure) -> {
            if (failure == null) {
                drafts.put(name, d);
            } else {
                closeDraft(d);
            }
        });
    }

    /** Stops serving a draft and frees it; requests in flight with it finish target-only. */
    public CompletionStage<Void> retireDraft(String name) {
        CompletableFuture<Draft> done = new CompletableFuture<>();
        system.tell(new Gateway.RetireDraft(name, done));
        return done.thenAccept(x -> {
            Draft d = drafts.remove(name);
            if (d != null) {
                closeDraft(d);
            }
        });
    }

    private static void closeDraft(Draft d) {
        if (d.trainer() != null) {
            d.trainer().close();
        }
        d.live().close();
    }

    /** Pauses (or resumes) the training of one draft, or of all when {@code name} is null. */
    public void setTraining(String name, boolean paused) {
        for (Draft d : drafts.values()) {
            if ((name == null || d.name().equals(name)) && d.trainer() != null) {
                if (paused) {
                    d.trainer().pause();
                } else {
                    d.trainer().resume();
                }
            }
        }
    }

    /** How many targets and draft replicas the gateway can reach now. */
    public Gateway.Readiness readiness() {
        return AskPattern.<Gateway.Command, Gateway.Readiness>ask(system, Gateway.GetReadiness::new,
                Duration.ofSeconds(5), system.scheduler()).toCompletableFuture().join();
    }

    /** The target actor's batching figures so far. */
    public TargetActor.Stats targetStats() {
        return AskPattern.<Gateway.Command, TargetActor.Stats>ask(system, Gateway.GetTargetStats::new,
                Duration.ofSeconds(5), system.scheduler()).toCompletableFuture().join();
    }

    public ActorSystem<Gateway.Command> actorSystem() {
        return system;
    }

    @Override
    public void close() {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().join();
    }
}
