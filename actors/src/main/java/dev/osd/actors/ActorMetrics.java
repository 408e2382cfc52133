package dev.osd.actors;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.AbstractExtensionId;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Extension;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.BehaviorInterceptor;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.TypedActorContext;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Per actor kind (target, draft, request, trainer, router, gateway): messages waiting in mailboxes, messages
 * processed, processing time and restarts. One per actor system (a Pekko extension); the queue depth comes
 * from {@link CountingMailbox}, the rest from an interceptor around each behavior ({@link #measured}).
 */
public final class ActorMetrics implements Extension {

    /** The extension's id: {@code ActorMetrics.ID.get(classicSystem)}. */
    public static final AbstractExtensionId<ActorMetrics> ID = new AbstractExtensionId<>() {
        @Override
        public ActorMetrics createExtension(ExtendedActorSystem system) {
            return new ActorMetrics();
        }
    };

    /** The mailbox every serving actor is spawned with (counts its queue). */
    public static final String MAILBOX = "osd.counted-mailbox";

    private final Map<String, AtomicLong> queued = new ConcurrentHashMap<>();
    private final Counter processed = Counter.builder().name("osd_actor_messages_processed_total")
            .help("Messages processed, per actor kind").labelNames("kind").build();
    private final Histogram processing = Histogram.builder().name("osd_actor_processing_seconds")
            .help("Time an actor spent on one message, per actor kind").labelNames("kind")
            .classicUpperBounds(0.00001, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)
            .build();
    private final Counter restarts = Counter.builder().name("osd_actor_restarts_total")
            .help("Times a supervised actor failed and was restarted, per actor kind").labelNames("kind").build();
    private final GaugeWithCallback queueDepth = GaugeWithCallback.builder().name("osd_actor_queue_depth")
            .help("Messages waiting in the mailboxes of the actors of a kind").labelNames("kind")
            .callback(cb -> queued.forEach((kind, n) -> cb.call(n.get(), kind))).build();

    private ActorMetrics() {
        for (String kind : new String[] {"target", "draft", "request", "trainer", "router", "gateway"}) {
            processed.labelValues(kind);
            restarts.labelValues(kind);
            queued.computeIfAbsent(kind, k -> new AtomicLong());
        }
    }

    public static ActorMetrics of(ActorSystem<?> system) {
        return ID.get(Adapter.toClassic(system));
    }

    /** Registers this system's actor metrics with a registry (once per registry). */
    public void registerWith(PrometheusRegistry registry) {
        registry.register(processed);
        registry.register(processing);
        registry.register(restarts);
        registry.register(queueDepth);
    }

    /** The kind of an actor from its name: "draft-sql" → draft, "request-12" → request. */
    static String kindOf(String actorName) {
        int dash = actorName.indexOf('-');
        String head = dash < 0 ? actorName : actorName.substring(0, dash);
        return switch (head) {
            case "target", "draft", "request", "trainer", "router" -> head;
            default -> "gateway";
        };
    }

    AtomicLong queue(String kind) {
        return queued.computeIfAbsent(kind, k -> new AtomicLong());
    }

    public long queueDepth(String kind) {
        return queue(kind).get();
    }

    public long processed(String kind) {
        return (long) processed.labelValues(kind).get();
    }

    public long restarts(String kind) {
        return (long) restarts.labelValues(kind).get();
    }

    /** {@code behavior}, measured as an actor of {@code kind}. */
    public static <T> Behavior<T> measured(Class<T> type, String kind, Behavior<T> behavior) {
        return measured(type, kind, false, behavior);
    }

    /** {@code behavior}, measured, restarted when it fails (each restart counted). */
    public static <T> Behavior<T> restarting(Class<T> type, String kind, Behavior<T> behavior) {
        return Behaviors.supervise(measured(type, kind, true, behavior)).onFailure(SupervisorStrategy.restart());
    }

    private static <T> Behavior<T> measured(Class<T> type, String kind, boolean restarted, Behavior<T> behavior) {
        return Behaviors.setup(ctx -> {
            ActorMetrics metrics = of(ctx.getSystem());
            return Behaviors.intercept(() -> new Measuring<>(type, metrics, kind, restarted), behavior);
        });
    }

    private static final class Measuring<T> extends BehaviorInterceptor<T, T> {
        private final ActorMetrics metrics;
        private final String kind;
        private final boolean restarted;

        Measuring(Class<T> type, ActorMetrics metrics, String kind, boolean restarted) {
            super(type);
            this.metrics = metrics;
            this.kind = kind;
            this.restarted = restarted;
        }

        @Override
        public Behavior<T> aroundReceive(TypedActorContext<T> ctx, T msg, ReceiveTarget<T> target) {
            long start = System.nanoTime();
            try {
                return target.apply(ctx, msg);
            } catch (RuntimeException | Error e) {
                if (restarted) {
                    metrics.restarts.labelValues(kind).inc();
                }
                throw e;
            } finally {
                metrics.processed.labelValues(kind).inc();
                metrics.processing.labelValues(kind).observe((System.nanoTime() - start) / 1e9);
            }
        }
    }
}
