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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

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

    record Parts(LlamaModel target, TextTokenizer tokenizer, List<Draft> drafts, Router router, Settings settings,
            NDManager manager) {
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

    private ServingSystem(ActorSystem<Gateway.Command> system) {
        this.system = system;
    }

    /** Starts the actors; the models stay the caller's. */
    public static ServingSystem start(String name, LlamaModel target, TextTokenizer tokenizer, List<Draft> drafts,
            Router router, Settings settings, NDManager manager) {
        return new ServingSystem(ActorSystem.create(Gateway.create(new Parts(target, tokenizer, drafts, router, settings,
                manager)), name));
    }

    /**
     * Submits a request. {@code onTokens} (may be null) gets each batch of accepted tokens as it is accepted;
     * the stage completes with the result, or exceptionally when the request names an unknown draft.
     */
    public CompletionStage<RequestActor.Finished> submit(Submission s, Consumer<int[]> onTokens) {
        CompletableFuture<RequestActor.Finished> done = new CompletableFuture<>();
        system.tell(new Gateway.Submit(Long.toString(ids.incrementAndGet()), s.request(), s.query(), s.draft(),
                s.fixedK(), s.speculate(), s.deadline(), onTokens, done));
        return done;
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
