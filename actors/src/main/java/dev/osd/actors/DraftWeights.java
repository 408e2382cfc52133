package dev.osd.actors;

import ai.djl.ndarray.NDManager;
import dev.osd.drafts.DraftVersion;
import dev.osd.drafts.LiveDraft;
import dev.osd.drafts.WeightsWire;
import dev.osd.engine.LlamaConfig;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * How new draft versions reach replicas on other nodes. On the trainer's node a publisher looks at the draft
 * each interval and sends a version it has not sent yet to every receiver the Receptionist lists for that draft
 * elsewhere, in chunks well under Artery's frame limit; a receiver assembles the chunks of one version, checks
 * their SHA-256 and only then publishes the version to its node's {@link LiveDraft} (never a partial one, never
 * an older one). Replicas on the trainer's own node share its LiveDraft and need nothing sent.
 */
public final class DraftWeights {

    /** Bytes per chunk (Artery's default frame is 256 KiB). */
    static final int CHUNK = 64 * 1024;

    private DraftWeights() {
    }

    public static ServiceKey<Receiver> receiverKey(String draft) {
        return ServiceKey.create(Receiver.class, "osd-weights-" + draft);
    }

    /** What a receiver hears. */
    public sealed interface Receiver {
    }

    /** One chunk of one version; {@code publishedAtMillis}: when the trainer published it (wall clock). */
    public record VersionChunk(String draft, long number, long parent, String sha256, int index, int total,
            long publishedAtMillis, byte[] data) implements Receiver, CrossNode {
    }

    /** A version a receiver published, and how long after the trainer did. */
    public record Received(String draft, long number, long delayMillis) {
    }

    public static Behavior<Receiver> receiver(String draft, LiveDraft live, LlamaConfig config, NDManager manager,
            Consumer<Received> onReceived) {
        return Behaviors.setup(ctx -> {
            ctx.getSystem().receptionist().tell(Receptionist.register(receiverKey(draft), ctx.getSelf()));
            Map<Long, byte[][]> parts = new HashMap<>();
            return Behaviors.receive(Receiver.class).onMessage(VersionChunk.class, c -> {
                if (c.number() <= live.versionNumber()) {
                    return Behaviors.same(); // old news
                }
                byte[][] got = parts.computeIfAbsent(c.number(), n -> new byte[c.total()][]);
                if (c.index() < 0 || c.index() >= got.length) {
                    ctx.getLog().warn("draft {} version {}: chunk {} of {} refused", draft, c.number(), c.index(),
                            got.length);
                    return Behaviors.same();
                }
                got[c.index()] = c.data();
                if (Arrays.stream(got).anyMatch(p -> p == null)) {
                    return Behaviors.same();
                }
                parts.remove(c.number());
                parts.keySet().removeIf(n -> n < c.number());
                int size = Arrays.stream(got).mapToInt(p -> p.length).sum();
                byte[] bytes = new byte[size];
                int at = 0;
                for (byte[] p : got) {
                    System.arraycopy(p, 0, bytes, at, p.length);
                    at += p.length;
                }
                String sha = WeightsWire.sha256(bytes);
                if (!sha.equals(c.sha256())) {
                    ctx.getLog().warn("draft {} version {}: checksum {} is not the announced {}; not served", draft,
                            c.number(), sha, c.sha256());
                    return Behaviors.same();
                }
                try {
                    DraftVersion v = WeightsWire.version(draft, c.number(), c.parent(), bytes, config, manager);
                    live.publish(v);
                } catch (RuntimeException e) {
                    ctx.getLog().warn("draft {} version {} refused: {}", draft, c.number(), e.getMessage());
                    return Behaviors.same();
                }
                if (onReceived != null) {
                    onReceived.accept(new Received(draft, c.number(),
                            System.currentTimeMillis() - c.publishedAtMillis()));
                }
                return Behaviors.same();
            }).build();
        });
    }

    /** What a publisher hears. */
    public sealed interface Publisher {
    }

    private enum Tick implements Publisher, LocalOnly {
        INSTANCE
    }

    private record Listed(Receptionist.Listing listing) implements Publisher, LocalOnly {
    }

    public static Behavior<Publisher> publisher(String draft, LiveDraft live, Duration every) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(receiverKey(draft),
                    ctx.messageAdapter(Receptionist.Listing.class, Listed::new)));
            timers.startTimerWithFixedDelay(Tick.INSTANCE, every);
            Map<ActorRef<Receiver>, Long> sent = new HashMap<>();
            AtomicReference<List<ActorRef<Receiver>>> receivers =
                    new AtomicReference<>(List.of());
            long[] publishedAt = {System.currentTimeMillis()};
            long[] seen = {live.versionNumber()};
            return Behaviors.receive(Publisher.class)
                    .onMessage(Listed.class, l -> {
                        receivers.set(List.copyOf(l.listing().getServiceInstances(receiverKey(draft))));
                        sent.keySet().retainAll(receivers.get());
                        return Behaviors.same();
                    })
                    .onMessageEquals(Tick.INSTANCE, () -> {
                        if (live.versionNumber() != seen[0]) {
                            seen[0] = live.versionNumber();
                            publishedAt[0] = System.currentTimeMillis();
                        }
                        List<ActorRef<Receiver>> behind = receivers.get().stream()
                                .filter(r -> !r.path().address().hasLocalScope())
                                .filter(r -> sent.getOrDefault(r, -1L) < seen[0]).toList();
                        if (behind.isEmpty() || seen[0] == 0) {
                            return Behaviors.same();
                        }
                        try (DraftVersion v = live.acquire()) {
                            byte[] bytes = WeightsWire.encode(v.model().weights());
                            String sha = WeightsWire.sha256(bytes);
                            int total = (bytes.length + CHUNK - 1) / CHUNK;
                            for (ActorRef<Receiver> r : behind) {
                                for (int i = 0; i < total; i++) {
                                    r.tell(new VersionChunk(draft, v.number(), v.parent(), sha, i, total,
                                            publishedAt[0], Arrays.copyOfRange(bytes, i * CHUNK,
                                                    Math.min(bytes.length, (i + 1) * CHUNK))));
                                }
                                sent.put(r, v.number());
                            }
                        }
                        return Behaviors.same();
                    })
                    .build();
        }));
    }
}
