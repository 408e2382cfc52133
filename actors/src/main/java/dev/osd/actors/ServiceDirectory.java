package dev.osd.actors;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * Where the services are: follows the Receptionist's listings of targets, each draft's replicas and trainers
 * (on one node the ones spawned here; in a cluster every node's), and picks for each request a target and a
 * replica of its draft, in turn. It answers asks ({@link Place}, {@link ReplaceTarget}, {@link GetReadiness}) and
 * tells its watchers how many targets it reaches whenever that changes (admission counts slots against it).
 */
public final class ServiceDirectory extends AbstractBehavior<ServiceDirectory.Command> {

    public static final ServiceKey<TargetActor.Command> TARGET_KEY = ServiceKey.create(TargetActor.Command.class,
            "osd-target");

    public static ServiceKey<DraftActor.Command> draftKey(String draft) {
        return ServiceKey.create(DraftActor.Command.class, "osd-draft-" + draft);
    }

    public static ServiceKey<TrainerActor.Command> trainerKey(String draft) {
        return ServiceKey.create(TrainerActor.Command.class, "osd-trainer-" + draft);
    }

    /** Local: the directory's commands carry this node's objects (adaptive proposal lengths). */
    public sealed interface Command extends LocalOnly {
    }

    /**
     * Follow a draft the system serves (from the draft lifecycle).
     *
     * @param replica this node's replica of it, used until the Receptionist lists any; null when none runs here
     * @param trainer this node's trainer of it, used before any listed one; null when none runs here
     * @param capacity positions the draft's replicas hold for one request; 0: unknown (the target's context)
     * @param adaptive the draft's adaptive proposal length on this node
     */
    public record Follow(String draft, ActorRef<DraftActor.Command> replica, ActorRef<TrainerActor.Command> trainer,
            int capacity, AdaptiveProposalLength adaptive) implements Command {
    }

    /** Stop following a retired draft: no request is placed on it any more. */
    public record Unfollow(String draft) implements Command {
    }

    /** Where a request routed to {@code draft} (null: target-only) runs. */
    public record Place(String draft, ActorRef<Placement> replyTo) implements Command {
    }

    /**
     * @param target a reachable target, or null when none is
     * @param draft the draft that serves the request, or null (none asked, or no replica of it is reachable)
     * @param replica a replica of that draft
     * @param trainer the draft's trainer, or null
     */
    public record Placement(ActorRef<TargetActor.Command> target, String draft, ActorRef<DraftActor.Command> replica,
            ActorRef<TrainerActor.Command> trainer, int draftCapacity, AdaptiveProposalLength adaptive)
            implements LocalOnly {
    }

    /** A request lost its target: another listed one, please (not {@code lost}). */
    public record ReplaceTarget(ActorRef<TargetActor.Command> lost, ActorRef<TargetFound> replyTo) implements Command {
    }

    /** @param target another target, or null when none is reachable */
    public record TargetFound(ActorRef<TargetActor.Command> target) implements LocalOnly {
    }

    /** Tell {@code watcher} how many targets are reachable, now and whenever that changes. */
    public record WatchTargets(ActorRef<TargetsReachable> watcher) implements Command {
    }

    public record TargetsReachable(int targets) implements LocalOnly {
    }

    /** Tells {@code command} to the listed trainers of a draft ({@code draft} null: of every draft) not on this node. */
    public record TellTrainers(String draft, TrainerActor.Command command) implements Command {
    }

    /** How many targets and replicas of each draft the directory can reach. */
    public record GetReadiness(ActorRef<Readiness> replyTo) implements Command {
    }

    /**
     * @param placements each service (target, draft-NAME, trainer-NAME) and the addresses of the nodes that hold
     *     an instance of it, as the Receptionist lists them
     */
    public record Readiness(int targets, Map<String, Integer> draftReplicas, Map<String, List<String>> placements)
            implements LocalOnly {
    }

    /** The batching figures of a target (this node's, else a listed one). */
    public record GetTargetStats(ActorRef<TargetActor.Stats> replyTo) implements Command {
    }

    private record Listed(Receptionist.Listing listing) implements Command {
    }

    /** What the directory knows of one draft. */
    private record Followed(ActorRef<DraftActor.Command> replica, ActorRef<TrainerActor.Command> trainer,
            int capacity, AdaptiveProposalLength adaptive) {
    }

    private final ActorRef<TargetActor.Command> localTarget;
    private final int defaultCapacity;
    private final ActorRef<Receptionist.Listing> listings;
    private final Map<String, Followed> followed = new TreeMap<>();
    private List<ActorRef<TargetActor.Command>> targets = List.of();
    private final Map<String, List<ActorRef<DraftActor.Command>>> replicas = new HashMap<>();
    private final Map<String, List<ActorRef<TrainerActor.Command>>> trainers = new HashMap<>();
    // targets requests saw go (the Receptionist may still list them for a moment)
    private final Set<ActorRef<TargetActor.Command>> lostTargets = new HashSet<>();
    private final Set<ActorRef<TargetsReachable>> watchers = new HashSet<>();
    private long picks;

    /**
     * @param localTarget this node's target, used until the Receptionist lists any; null when none runs here
     * @param defaultCapacity positions a draft of unknown capacity is taken to hold for one request (the target's
     *     max_position_embeddings: the request's own checks bound it)
     */
    static Behavior<Command> create(ActorRef<TargetActor.Command> localTarget, int defaultCapacity) {
        return Behaviors.setup(ctx -> new ServiceDirectory(ctx, localTarget, defaultCapacity));
    }

    private ServiceDirectory(ActorContext<Command> ctx, ActorRef<TargetActor.Command> localTarget,
            int defaultCapacity) {
        super(ctx);
        this.localTarget = localTarget;
        this.defaultCapacity = defaultCapacity;
        this.listings = ctx.messageAdapter(Receptionist.Listing.class, Listed::new);
        ctx.getSystem().receptionist().tell(Receptionist.subscribe(TARGET_KEY, listings));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Follow.class, this::onFollow)
                .onMessage(Unfollow.class, this::onUnfollow)
                .onMessage(Listed.class, this::onListed)
                .onMessage(Place.class, this::onPlace)
                .onMessage(ReplaceTarget.class, this::onReplaceTarget)
                .onMessage(WatchTargets.class, w -> {
                    watchers.add(w.watcher());
                    w.watcher().tell(new TargetsReachable(reachable().size()));
                    return this;
                })
                .onMessage(TellTrainers.class, this::onTellTrainers)
                .onMessage(GetReadiness.class, this::onGetReadiness)
                .onMessage(GetTargetStats.class, g -> {
                    ActorRef<TargetActor.Command> t = pick(targets, localTarget);
                    if (t != null) {
                        t.tell(new TargetActor.GetStats(g.replyTo()));
                    }
                    return this;
                })
                .build();
    }

    private Behavior<Command> onFollow(Follow f) {
        boolean first = !followed.containsKey(f.draft());
        followed.put(f.draft(), new Followed(f.replica(), f.trainer(), f.capacity(), f.adaptive()));
        if (first) {
            getContext().getSystem().receptionist().tell(Receptionist.subscribe(draftKey(f.draft()), listings));
            getContext().getSystem().receptionist().tell(Receptionist.subscribe(trainerKey(f.draft()), listings));
        }
        return this;
    }

    private Behavior<Command> onUnfollow(Unfollow u) {
        followed.remove(u.draft());
        replicas.remove(u.draft());
        trainers.remove(u.draft());
        return this;
    }

    private Behavior<Command> onListed(Listed l) {
        Receptionist.Listing listing = l.listing();
        if (listing.isForKey(TARGET_KEY)) {
            int before = reachable().size();
            targets = List.copyOf(listing.getServiceInstances(TARGET_KEY));
            lostTargets.retainAll(targets);
            tellWatchers(before);
            return this;
        }
        for (String name : followed.keySet()) {
            if (listing.isForKey(draftKey(name))) {
                replicas.put(name, List.copyOf(listing.getServiceInstances(draftKey(name))));
            } else if (listing.isForKey(trainerKey(name))) {
                trainers.put(name, List.copyOf(listing.getServiceInstances(trainerKey(name))));
            }
        }
        return this;
    }

    private Behavior<Command> onPlace(Place p) {
        ActorRef<TargetActor.Command> target = pick(reachable(), localTarget);
        Followed f = p.draft() == null ? null : followed.get(p.draft());
        ActorRef<DraftActor.Command> replica = f == null ? null : pick(replicas.get(p.draft()), f.replica());
        if (replica == null) {
            p.replyTo().tell(new Placement(target, null, null, null, 0, null));
            return this;
        }
        ActorRef<TrainerActor.Command> trainer = f.trainer() != null ? f.trainer() : pick(trainers.get(p.draft()), null);
        p.replyTo().tell(new Placement(target, p.draft(), replica, trainer,
                f.capacity() > 0 ? f.capacity() : defaultCapacity, f.adaptive()));
        return this;
    }

    private Behavior<Command> onReplaceTarget(ReplaceTarget r) {
        int before = reachable().size();
        lostTargets.add(r.lost());
        List<ActorRef<TargetActor.Command>> others = reachable();
        r.replyTo().tell(new TargetFound(others.isEmpty() ? null : pick(others, null)));
        tellWatchers(before);
        return this;
    }

    private Behavior<Command> onTellTrainers(TellTrainers t) {
        for (Map.Entry<String, Followed> e : followed.entrySet()) {
            // a trainer on this node was told by the lifecycle; one elsewhere (a singleton) by each listed ref
            if ((t.draft() == null || t.draft().equals(e.getKey())) && e.getValue().trainer() == null) {
                for (ActorRef<TrainerActor.Command> ref : trainers.getOrDefault(e.getKey(), List.of())) {
                    ref.tell(t.command());
                }
            }
        }
        return this;
    }

    private Behavior<Command> onGetReadiness(GetReadiness g) {
        Map<String, Integer> counts = new TreeMap<>();
        Map<String, List<String>> placements = new TreeMap<>();
        placements.put("target", addresses(targets.isEmpty() && localTarget != null ? List.of(localTarget) : targets));
        for (String name : followed.keySet()) {
            List<ActorRef<DraftActor.Command>> listed = replicas.getOrDefault(name, List.of());
            counts.put(name, listed.size());
            placements.put("draft-" + name, addresses(listed));
            placements.put("trainer-" + name, addresses(trainers.getOrDefault(name, List.of())));
        }
        g.replyTo().tell(new Readiness(targets.size(), counts, placements));
        return this;
    }

    private List<ActorRef<TargetActor.Command>> reachable() {
        return targets.stream().filter(t -> !lostTargets.contains(t)).toList();
    }

    private void tellWatchers(int before) {
        int now = reachable().size();
        if (now != before) {
            watchers.forEach(w -> w.tell(new TargetsReachable(now)));
        }
    }

    /** A listed instance, in turn; the one spawned here until the Receptionist has listed any. */
    private <T> ActorRef<T> pick(List<ActorRef<T>> listed, ActorRef<T> local) {
        if (listed == null || listed.isEmpty()) {
            return local;
        }
        if (local != null && listed.contains(local) && listed.size() == 1) {
            return local;
        }
        return listed.get((int) (picks++ % listed.size()));
    }

    private String addressOf(ActorRef<?> ref) {
        Address a = ref.path().address();
        return a.hasLocalScope() ? getContext().getSystem().address().toString() : a.toString();
    }

    private List<String> addresses(List<? extends ActorRef<?>> refs) {
        return refs.stream().map(this::addressOf).distinct().sorted().toList();
    }
}
