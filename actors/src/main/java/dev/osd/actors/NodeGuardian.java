package dev.osd.actors;

import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.MailboxSelector;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The guardian of one node: spawns what the node's roles need — the target (target role); the router and the
 * gateway (gateway role); on every node the service directory and the draft lifecycle, which spawns the draft
 * replicas (draft role) and trainers (trainer role) — and hands their references to the Java API. It takes no
 * messages of its own.
 */
public final class NodeGuardian {

    /** What the Java API talks to. {@code gateway} is null on a node without the gateway role. */
    record Node(ActorRef<Gateway.Command> gateway, ActorRef<ServiceDirectory.Command> directory,
            ActorRef<DraftLifecycle.Command> drafts, DraftLifecycle.View served, ServingMetrics metrics) {
    }

    /** The target runs on a model dispatcher of its own; every serving actor's mailbox is counted. */
    private static final Props TARGET_MODELS = MailboxSelector.fromConfig(ActorMetrics.MAILBOX)
            .withDispatcherFromConfig("osd.target-dispatcher");
    private static final Props COUNTED = MailboxSelector.fromConfig(ActorMetrics.MAILBOX);

    private NodeGuardian() {
    }

    static Behavior<Void> create(ServingSystem.Parts parts, CompletableFuture<Node> started) {
        return Behaviors.setup(ctx -> {
            DraftLifecycle.View served = new DraftLifecycle.View(DraftLifecycle.initial(parts));
            // the actor metrics extension belongs to the actor system: the registry is made once that exists
            ServingMetrics metrics = new ServingMetrics(() -> served.get().local().values(),
                    ActorMetrics.of(ctx.getSystem()));
            ServingSystem.Parts p = parts.withMetrics(metrics);
            ActorRef<TargetActor.Command> target = !p.roles().contains("target") ? null
                    : ctx.spawn(ActorMetrics.measured(TargetActor.Command.class, "target",
                            TargetActor.create(p.target(), p.settings().slots(), p.settings().maxBatch(),
                                    ServiceDirectory.TARGET_KEY, pool -> metrics.kvCache("target", pool))),
                            "target", TARGET_MODELS);
            ActorRef<RouterActor.Command> router = !p.roles().contains("gateway") ? null
                    : ctx.spawn(ActorMetrics.measured(RouterActor.Command.class, "router",
                            RouterActor.create(p.router())), "router", COUNTED);
            ActorRef<ServiceDirectory.Command> directory = ctx.spawn(ActorMetrics.measured(
                    ServiceDirectory.Command.class, "directory", ServiceDirectory.create(target,
                            p.targetConfig().maxPositionEmbeddings())), "directory", COUNTED);
            ActorRef<DraftLifecycle.Command> drafts = ctx.spawn(ActorMetrics.measured(DraftLifecycle.Command.class,
                    "drafts", DraftLifecycle.create(p, router, directory, served)), "drafts", COUNTED);
            if (router != null && p.factory() != null) {
                // only a node that can make drafts lets its router decide to spawn them
                router.tell(new RouterActor.DecisionsTo(drafts));
            }
            ActorRef<Gateway.Command> gateway = router == null ? null
                    : ctx.spawn(ActorMetrics.measured(Gateway.Command.class, "gateway",
                            Gateway.create(p, router, directory)), "gateway", COUNTED);
            started.complete(new Node(gateway, directory, drafts, served, metrics));
            return Behaviors.empty();
        });
    }
}
