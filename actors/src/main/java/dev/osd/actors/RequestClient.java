package dev.osd.actors;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The caller's side of one generation, on the gateway's node: streams its tokens to the caller's callback,
 * times them (inter-token latency), and at the end tells the gateway its slot is free, teaches the router the
 * acceptance the draft earned, records the request's figures and completes the caller's future.
 */
final class RequestClient {

    private RequestClient() {
    }

    /**
     * @param queryClass the class the router gave the query, or null
     * @param speculating whether the generation starts with a draft (its inter-token times are counted apart)
     * @param router taught what the draft earned; null: nobody learns
     */
    static Behavior<RequestActor.Event> create(Gateway.Submit s, String queryClass, boolean speculating,
            ServingMetrics metrics, ActorRef<RouterActor.Command> router, ActorRef<Gateway.Command> gateway) {
        return Behaviors.setup(ctx -> {
            long[] firstToken = {-1};
            long[] lastTokens = {-1};
            return Behaviors.receive(RequestActor.Event.class)
                    .onMessage(RequestActor.Tokens.class, t -> {
                        long at = System.nanoTime();
                        // a part of echo's prompt logprobs carries no token: it times nothing
                        if (t.tokens().length > 0) {
                            if (firstToken[0] < 0) {
                                firstToken[0] = at;
                            } else {
                                metrics.interToken(speculating, (at - lastTokens[0]) / 1e9);
                            }
                            lastTokens[0] = at;
                        }
                        if (s.onTokens() != null) {
                            s.onTokens().accept(t);
                        }
                        return Behaviors.same();
                    })
                    .onMessage(RequestActor.Finished.class, f -> {
                        if (f.draft() != null && router != null) {
                            router.tell(new RouterActor.Observe(s.query(), f.draft(),
                                    f.result().stats().tokenAcceptance()));
                        }
                        RequestActor.Finished answered = f.withQueryClass(queryClass);
                        long now = System.nanoTime();
                        // the slot first: a caller that submits its next request on this answer finds it free
                        gateway.tell(new Gateway.Ended(s.id()));
                        try {
                            metrics.record(answered, s.submittedNanos(), firstToken[0] < 0 ? now : firstToken[0], now);
                        } catch (RuntimeException e) {
                            // a figure that cannot be recorded never costs the caller its answer
                            ctx.getLog().error("request {} could not be recorded in the metrics", s.id(), e);
                        }
                        s.done().complete(answered);
                        return Behaviors.stopped();
                    })
                    .build();
        });
    }
}
