package dev.osd.actors;

import dev.osd.engine.GenerationRequest;
import dev.osd.routing.Router;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.MailboxSelector;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * Where requests enter a gateway node: admits a request's generations whole or not at all (against the cache
 * slots of the targets the {@link ServiceDirectory} reaches), stops admitting on a drain, and for each
 * generation asks the {@link RouterActor} for a draft and the directory for a target and a replica, then spawns
 * a {@link RequestActor} there with a {@link RequestClient} that answers the caller.
 */
public final class Gateway extends AbstractBehavior<Gateway.Command> {

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

    /** Stops a request early; it answers with what it has. Unknown or finished ids are ignored. */
    public record Cancel(String id) implements Command {
    }

    private record Routed(Submit submit, RouterActor.Routed routed) implements Command {
    }

    private record Placed(Submit submit, Router.Route route, ServiceDirectory.Placement placement) implements Command {
    }

    /** A generation answered its caller: its slot is free (told before the caller hears, so a next request fits). */
    record Ended(String id) implements Command {
    }

    private record RequestGone(Submit submit) implements Command {
    }

    private record RequestUnanswered(Submit submit) implements Command {
    }

    private record TargetsChanged(ServiceDirectory.TargetsReachable reachable) implements Command {
    }

    private static final Props COUNTED = MailboxSelector.fromConfig(ActorMetrics.MAILBOX);
    private static final Router.Route TARGET_ONLY = new Router.Route(null, null, Router.Reason.NONE);

    private final ServingSystem.Parts parts;
    private final ActorRef<RouterActor.Command> router;
    private final ActorRef<ServiceDirectory.Command> directory;
    private final int context;
    // generations admitted and not yet ended (what admission counts against the slots), with their callers' results
    private final Map<String, CompletableFuture<RequestActor.Finished>> running = new HashMap<>();
    private int reachableTargets;
    private boolean draining;
    private Problem aborted;

    static Behavior<Command> create(ServingSystem.Parts parts, ActorRef<RouterActor.Command> router,
            ActorRef<ServiceDirectory.Command> directory) {
        return Behaviors.setup(ctx -> new Gateway(ctx, parts, router, directory));
    }

    private Gateway(ActorContext<Command> ctx, ServingSystem.Parts parts, ActorRef<RouterActor.Command> router,
            ActorRef<ServiceDirectory.Command> directory) {
        super(ctx);
        this.parts = parts;
        this.router = router;
        this.directory = directory;
        // the model's, or osd.target.max-context, within what the target's key/value memory holds
        this.context = TargetActor.contextLimit(ctx.getSystem().settings().config(), parts.targetConfig());
        directory.tell(new ServiceDirectory.WatchTargets(ctx.messageAdapter(ServiceDirectory.TargetsReachable.class,
                TargetsChanged::new)));
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
                .onMessage(Cancel.class, this::onCancel)
                .onMessage(Routed.class, this::onRouted)
                .onMessage(Placed.class, this::onPlaced)
                .onMessage(RequestGone.class, this::onRequestGone)
                .onMessage(RequestUnanswered.class, this::onRequestUnanswered)
                .onMessage(TargetsChanged.class, t -> {
                    reachableTargets = t.reachable().targets();
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
        return parts.settings().slots() * Math.max(1, reachableTargets);
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
            onRouted(new Routed(s, new RouterActor.Routed(TARGET_ONLY, null)));
            return;
        }
        getContext().ask(RouterActor.Routed.class, router, Duration.ofSeconds(1),
                replyTo -> new RouterActor.Route(s.query(), s.requestedDraft(), replyTo),
                (routed, failure) -> new Routed(s, routed != null ? routed
                        // a router that does not answer costs speculation, never the request
                        : new RouterActor.Routed(TARGET_ONLY, null)));
    }

    private Behavior<Command> onRouted(Routed r) {
        Submit s = r.submit();
        if (aborted != null) {
            return refuse(s, aborted);
        }
        if (r.routed().problem() != null) {
            return refuse(s, new Problem.InvalidInput("speculation.draft", r.routed().problem()));
        }
        Router.Route route = r.routed().route();
        getContext().ask(ServiceDirectory.Placement.class, directory, Duration.ofSeconds(5),
                replyTo -> new ServiceDirectory.Place(route.draft(), replyTo),
                (placement, failure) -> new Placed(s, route, placement != null ? placement
                        : new ServiceDirectory.Placement(null, null, null, null, 0, null)));
        return this;
    }

    private Behavior<Command> onPlaced(Placed p) {
        Submit s = p.submit();
        if (aborted != null) {
            return refuse(s, aborted);
        }
        ServiceDirectory.Placement place = p.placement();
        if (place.target() == null) {
            return refuse(s, new Problem.Unavailable("no target is reachable"));
        }
        String draft = place.draft();
        ActorRef<TrainerActor.Command> trainer = place.trainer();
        ActorRef<RequestActor.Event> client = getContext().spawnAnonymous(RequestClient.create(s,
                p.route().queryClass(), draft != null, parts.metrics(), router, getContext().getSelf()));
        ActorRef<RequestActor.Command> request;
        try {
            // the request keeps the target and draft replica it starts with: they hold its caches
            request = getContext().spawn(ActorMetrics.measured(RequestActor.Command.class, "request",
                    RequestActor.create(new RequestActor.Setup(s.id(), s.request(), parts.tokenizer(),
                            parts.targetConfig().eosTokenId(), context, place.target(), place.replica(), draft,
                            place.draftCapacity(), trainer, draft == null || s.fixedK() ? null : place.adaptive(),
                            parts.settings().draftTimeout(), s.deadline(), client, directory))),
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

    private Behavior<Command> refuse(Submit s, Problem problem) {
        release(s.id());
        s.done().completeExceptionally(new ProblemException(problem));
        return this;
    }

    private Behavior<Command> onCancel(Cancel c) {
        getContext().getChild("request-" + c.id()).ifPresent(child ->
                child.<RequestActor.Command>unsafeUpcast().tell(RequestActor.Cancel.INSTANCE));
        return this;
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
