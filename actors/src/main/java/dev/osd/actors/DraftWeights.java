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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * How new draft versions reach replicas on other nodes. On the trainer's node a publisher looks at the draft
 * each interval and sends a version it has not sent yet to every receiver the Receptionist lists for that draft
 * elsewhere, in chunks well under Artery's frame limit; a receiver assembles the chunks of one version, checks
 * their SHA-256 and only then publishes the version to its node's {@link LiveDraft} (never a partial one, never
 * an older one). Replicas on the trainer's own node share its LiveDraft and need nothing sent. Encoding, hashing
 * and building a model run on Pekko's blocking dispatcher, never on the actors' threads.
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

    /** A version built from checked bytes off the actor's thread (or why it could not be). */
    private record Built(VersionChunk last, DraftVersion version, Throwable failure) implements Receiver, LocalOnly {
    }

    /** One chunk of one version; {@code publishedAtMillis}: when the trainer published it (wall clock). */
    public record VersionChunk(String draft, long version, long parent, String sha256, int index, int total,
            long publishedAtMillis, byte[] data) implements Receiver, CrossNode {
    }

    /** A version a receiver published, and how long after the trainer did. */
    public record Received(String draft, long version, long delayMillis) {
    }

    public static Behavior<Receiver> receiver(String draft, LiveDraft live, LlamaConfig config, NDManager manager,
            Consumer<Received> onReceived) {
        return Behaviors.setup(ctx -> {
            ctx.getSystem().receptionist().tell(Receptionist.register(receiverKey(draft), ctx.getSelf()));
            Map<Long, byte[][]> parts = new HashMap<>();
            return Behaviors.receive(Receiver.class).onMessage(VersionChunk.class, c -> {
                if (c.version() <= live.version()) {
                    return Behaviors.same(); // old news
                }
                byte[][] got = parts.computeIfAbsent(c.version(), n -> new byte[c.total()][]);
                if (c.index() < 0 || c.index() >= got.length) {
                    ctx.getLog().warn("draft {} version {}: chunk {} of {} refused", draft, c.version(), c.index(),
                            got.length);
                    return Behaviors.same();
                }
                got[c.index()] = c.data();
                if (Arrays.stream(got).anyMatch(p -> p == null)) {
                    return Behaviors.same();
                }
                parts.remove(c.version());
                parts.keySet().removeIf(n -> n < c.version());
                int size = Arrays.stream(got).mapToInt(p -> p.length).sum();
                byte[] bytes = new byte[size];
                int at = 0;
                for (byte[] p : got) {
                    System.arraycopy(p, 0, bytes, at, p.length);
                    at += p.length;
                }
                // hashing and building a model take a while: on the blocking dispatcher, the result piped back
                ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> {
                    String sha = WeightsWire.sha256(bytes);
                    if (!sha.equals(c.sha256())) {
                        throw new IllegalStateException("checksum " + sha + " is not the announced " + c.sha256());
                    }
                    return WeightsWire.version(draft, c.version(), c.parent(), bytes, config, manager);
                }, ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking())),
                        (v, failure) -> new Built(c, v, failure));
                return Behaviors.same();
            }).onMessage(Built.class, b -> {
                VersionChunk c = b.last();
                if (b.failure() != null) {
                    ctx.getLog().warn("draft {} version {} refused: {}", draft, c.version(),
                            (b.failure() instanceof CompletionException e ? e.getCause() : b.failure()).getMessage());
                    return Behaviors.same();
                }
                if (c.version() <= live.version()) {
                    b.version().close(); // a newer one was published while this one was built
                    return Behaviors.same();
                }
                try {
                    live.publish(b.version());
                } catch (RuntimeException e) {
                    ctx.getLog().warn("draft {} version {} refused: {}", draft, c.version(), e.getMessage());
                    return Behaviors.same();
                }
                if (onReceived != null) {
                    onReceived.accept(new Received(draft, c.version(),
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

    /** A version encoded off the actor's thread, for the receivers that were behind when it started. */
    private record Encoded(long version, long parent, byte[] bytes, String sha256, List<ActorRef<Receiver>> behind,
            Throwable failure) implements Publisher, LocalOnly {
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
            long[] seen = {live.version()};
            boolean[] encoding = {false};
            return Behaviors.receive(Publisher.class)
                    .onMessage(Listed.class, l -> {
                        receivers.set(List.copyOf(l.listing().getServiceInstances(receiverKey(draft))));
                        sent.keySet().retainAll(receivers.get());
                        return Behaviors.same();
                    })
                    .onMessageEquals(Tick.INSTANCE, () -> {
                        if (live.version() != seen[0]) {
                            seen[0] = live.version();
                            publishedAt[0] = System.currentTimeMillis();
                        }
                        List<ActorRef<Receiver>> behind = receivers.get().stream()
                                .filter(r -> !r.path().address().hasLocalScope())
                                .filter(r -> sent.getOrDefault(r, -1L) < seen[0]).toList();
                        if (behind.isEmpty() || seen[0] == 0 || encoding[0]) {
                            return Behaviors.same();
                        }
                        // encoding a whole model takes a while: on the blocking dispatcher, the bytes piped back
                        encoding[0] = true;
                        ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> {
                            try (DraftVersion v = live.acquire()) {
                                byte[] bytes = WeightsWire.encode(v.model().weights());
                                return new Encoded(v.version(), v.parent(), bytes, WeightsWire.sha256(bytes), behind,
                                        null);
                            }
                        }, ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking())),
                                (e, failure) -> e != null ? e : new Encoded(0, 0, null, null, behind, failure));
                        return Behaviors.same();
                    })
                    .onMessage(Encoded.class, e -> {
                        encoding[0] = false;
                        if (e.failure() != null) {
                            ctx.getLog().warn("draft {}: a version could not be encoded: {}", draft,
                                    e.failure().toString());
                            return Behaviors.same();
                        }
                        byte[] bytes = e.bytes();
                        int total = (bytes.length + CHUNK - 1) / CHUNK;
                        for (ActorRef<Receiver> r : e.behind()) {
                            if (!receivers.get().contains(r)) {
                                continue; // gone while the version was encoded
                            }
                            for (int i = 0; i < total; i++) {
                                r.tell(new VersionChunk(draft, e.version(), e.parent(), e.sha256(), i, total,
                                        publishedAt[0], Arrays.copyOfRange(bytes, i * CHUNK,
                                                Math.min(bytes.length, (i + 1) * CHUNK))));
                            }
                            sent.put(r, e.version());
                        }
                        return Behaviors.same();
                    })
                    .build();
        }));
    }
}
