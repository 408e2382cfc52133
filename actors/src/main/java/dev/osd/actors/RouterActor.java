package dev.osd.actors;

import dev.osd.routing.Router;
import dev.osd.routing.RoutingRule;
import dev.osd.routing.SpawnPolicy;
import dev.osd.routing.TrafficClusters;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The router as an actor: classifies each query and picks its draft ({@link Router}: the named draft, rules,
 * then the learned preference, then the general draft), and learns from the acceptance each finished request
 * achieved. One per gateway; its state is small and its work is microseconds, so it never needs the model
 * dispatcher.
 */
public final class RouterActor {

    public sealed interface Command {
    }

    /** Which draft serves {@code query} ({@code requested}: the draft the request names, or null). */
    public record Route(String query, String requested, ActorRef<Routed> replyTo) implements Command, CrossNode {
    }

    /** The choice, or why the request cannot be served (an unknown named draft). */
    public record Routed(Router.Route route, String problem) implements CrossNode {
    }

    public record Observe(String query, String draft, double acceptance) implements Command, CrossNode {
    }

    /** @param rule routes the draft's class (tried first), or null */
    public record AddDraft(String draft, RoutingRule rule) implements Command, CrossNode {
    }

    public record RemoveDraft(String draft) implements Command, CrossNode {
    }

    /**
     * Where the spawn policy's decisions go (the node's draft lifecycle, which can make drafts): until told, the
     * router decides nothing.
     */
    public record DecisionsTo(ActorRef<DraftLifecycle.Command> lifecycle) implements Command, LocalOnly {
    }

    private RouterActor() {
    }

    public static Behavior<Command> create(Router router) {
        // written and read only by this actor
        List<ActorRef<DraftLifecycle.Command>> decisionsTo = new ArrayList<>(1);
        return Behaviors.receive(Command.class)
                .onMessage(Route.class, r -> {
                    try {
                        r.replyTo().tell(new Routed(router.route(r.query(), r.requested()), null));
                    } catch (IllegalArgumentException e) {
                        r.replyTo().tell(new Routed(null, e.getMessage()));
                    }
                    return Behaviors.same();
                })
                .onMessage(Observe.class, o -> {
                    router.observe(o.query(), o.draft(), o.acceptance());
                    if (!decisionsTo.isEmpty()) {
                        // the decision is made here, where the figures are; the lifecycle carries it out
                        for (SpawnPolicy.Decision d : router.spawnDecisions()) {
                            TrafficClusters clusters = router.clusters();
                            String cluster = d.cluster();
                            decisionsTo.get(0).tell(new DraftLifecycle.Decided(d,
                                    text -> clusters.closest(text).map(cluster::equals).orElse(false)));
                        }
                    }
                    return Behaviors.same();
                })
                .onMessage(DecisionsTo.class, t -> {
                    decisionsTo.clear();
                    decisionsTo.add(t.lifecycle());
                    return Behaviors.same();
                })
                .onMessage(AddDraft.class, a -> {
                    router.addDraft(a.draft(), a.rule());
                    return Behaviors.same();
                })
                .onMessage(RemoveDraft.class, r -> {
                    router.removeDraft(r.draft());
                    return Behaviors.same();
                })
                .build();
    }
}
