package dev.osd.actors;

import dev.osd.routing.Router;
import dev.osd.routing.RoutingRule;
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

    private RouterActor() {
    }

    public static Behavior<Command> create(Router router) {
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
