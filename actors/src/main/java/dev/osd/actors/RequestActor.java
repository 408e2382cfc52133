package dev.osd.actors;

import dev.osd.engine.Generation;
import dev.osd.engine.GenerationListener;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.SuffixProposer;
import dev.osd.engine.TextTokenizer;
import dev.osd.engine.TokenLogprob;
import dev.osd.engine.Verification;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * One request, from its prompt to its last token: opens a cache on the target, then drives rounds (ask the
 * draft for k tokens, ask the target to verify them, stream what it emitted) until a stop condition. The
 * target verifies next to its logits and answers with tokens; this actor never sees a logits row. A draft
 * that does not answer in time, or answers with a problem, turns the rest of the request into target-only
 * decoding; the output never depends on the draft. The draft's trainer travels in {@code Open}: the target
 * sends it each verified round's record. Stops itself when done, which frees its caches on both actors.
 */
public final class RequestActor extends AbstractBehavior<RequestActor.Command> {

    public sealed interface Command {
    }

    /** Stops generation early (its client went away); the client gets the result so far, as cancelled. */
    public enum Cancel implements Command, LocalOnly {
        INSTANCE
    }

    /** Stops generation early for the server's reason (a shutdown past its grace period); answers with it. */
    public record Abort(Problem problem) implements Command, LocalOnly {
    }

    private record Opened(TargetActor.Opened opened) implements Command, LocalOnly {
    }

    private record Scored(TargetActor.Scored scored) implements Command, LocalOnly {
    }

    private record Proposed(DraftActor.Proposed proposed) implements Command, LocalOnly {
    }

    private record DraftTimedOut(long round) implements Command, LocalOnly {
    }

    /** The target holding this request's cache went (its node left the cluster). */
    private record TargetLost(ActorRef<TargetActor.Command> lost) implements Command, LocalOnly {
    }

    private record TargetReplaced(ServiceDirectory.TargetFound found) implements Command, LocalOnly {
    }

    private enum DeadlinePassed implements Command, LocalOnly {
        INSTANCE
    }

    /** What the client hears: tokens as they are accepted, then the result (or the failure). */
    public sealed interface Event extends CrossNode {
    }

    /**
     * @param tokens the tokens accepted; none in an event that carries a part of the prompt's log-probabilities
     * @param logprobs each token's log-probability when the request asked for them, else null
     * @param promptLogprobs for a request that asked for the prompt's log-probabilities (echo), before any
     *     token: the next part of them (in order, prompt token i + 1's at entry i overall), else null
     */
    public record Tokens(String requestId, int[] tokens, List<TokenLogprob> logprobs,
            List<TokenLogprob> promptLogprobs) implements Event {
        public Tokens(String requestId, int[] tokens, List<TokenLogprob> logprobs) {
            this(requestId, tokens, logprobs, null);
        }
    }

    /**
     * @param draft the draft that served the request, or null for target-only decoding
     * @param problem why the request ended early (overloaded, deadline, cancelled, target trouble), or null
     * @param queryClass the class the router gave the query, or null
     */
    public record Finished(String requestId, GenerationResult result, String draft, Problem problem, String queryClass)
            implements Event {
        public Finished(String requestId, GenerationResult result, String draft, Problem problem) {
            this(requestId, result, draft, problem, null);
        }

        Finished withQueryClass(String c) {
            return new Finished(requestId, result, draft, problem, c);
        }
    }

    private final String id;
    private final Generation generation;
    private ActorRef<TargetActor.Command> target;
    private int prefilled;
    private final ActorRef<ServiceDirectory.Command> directory;
    private final ActorRef<ServiceDirectory.TargetFound> targetFoundAdapter;
    private final ActorRef<DraftActor.Command> draft;
    private final String draftName;
    private final int draftCapacity;
    private final ActorRef<Event> client;
    private final ActorRef<TrainerActor.Command> trainer;
    private final Duration draftTimeout;
    private final ActorRef<TargetActor.Scored> scoredAdapter;
    private final ActorRef<DraftActor.Proposed> proposedAdapter;
    private boolean speculate;
    private int targetCached;
    private DraftActor.Proposed pendingProposal;
    private int lengthBeforeRound;
    private long round;
    private boolean awaitingDraft;
    private long proposeSent;
    private long proposeNanos;
    private long verifySent;
    // how much of the sequence the draft was told (its next Propose sends only what follows), and the round's ask
    private int draftKnown;
    private int proposeK;
    private long proposeSeed;
    // echo's prompt log-probabilities: the sequence being prefilled in parts and the entries so far (null: no
    // prefill asks for them)
    private int[] prefillSequence;
    private List<TokenLogprob> promptEntries;
    private boolean promptLogprobsDone;

    /**
     * Prompt positions per prefill that asks for their log-probabilities: each answer carries this many entries
     * at most (a few KB at the API's 5 alternatives) and the target keeps this many logits rows for it at once,
     * whatever the prompt's length; a longer prompt goes in parts, one after the other, and each part's entries
     * go on to the client as they come (a Tokens event with no tokens).
     */
    static final int PROMPT_LOGPROBS_PART = 128;

    /**
     * Everything one request starts with.
     *
     * @param tokenizer decodes stop strings, or null when the request has none
     * @param targetCapacity positions the request may take on the target
     * @param draft the chosen draft's replica, or null for target-only decoding
     * @param draftName the draft's name (for its figures and logs), or null
     * @param draftCapacity positions the replica holds for the request
     * @param trainer the draft's trainer, which the target sends every verified round's record to, or null
     * @param adaptive the draft's adaptive proposal length (k = the smaller of its choice and the request's
     *     num_draft_tokens), or null when the request fixes k
     * @param draftTimeout how long a round waits for a proposal before the request goes on target-only
     * @param deadline the request ends with what it has (and a problem saying so) after this long; null: none
     * @param directory asked for another target when this one's node goes; null: the request then ends
     */
    public record Setup(String id, GenerationRequest request, TextTokenizer tokenizer, int eosTokenId,
            int targetCapacity, ActorRef<TargetActor.Command> target, ActorRef<DraftActor.Command> draft,
            String draftName, int draftCapacity, ActorRef<TrainerActor.Command> trainer,
            AdaptiveProposalLength adaptive,
            Duration draftTimeout, Duration deadline, ActorRef<Event> client,
            ActorRef<ServiceDirectory.Command> directory) {

        /** Target-only decoding with no deadline and no directory; add a draft with {@link #withDraft}. */
        public static Setup targetOnly(String id, GenerationRequest request, int eosTokenId, int targetCapacity,
                ActorRef<TargetActor.Command> target, Duration draftTimeout, ActorRef<Event> client) {
            return new Setup(id, request, null, eosTokenId, targetCapacity, target, null, null, 0, null, null,
                    draftTimeout, null, client, null);
        }

        /** The same request served by {@code draft} (its replica), whose trainer {@code trainer} gets the records. */
        public Setup withDraft(ActorRef<DraftActor.Command> replica, String name, int capacity,
                ActorRef<TrainerActor.Command> rounds, AdaptiveProposalLength adaptiveK) {
            return new Setup(id, request, tokenizer, eosTokenId, targetCapacity, target, replica, name, capacity,
                    rounds, adaptiveK, draftTimeout, deadline, client, directory);
        }
    }

    public static Behavior<Command> create(Setup setup) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new RequestActor(ctx, setup, timers)));
    }

    private final TimerScheduler<Command> timers;
    private final AdaptiveProposalLength adaptive;
    private final Duration deadline;
    private final int contextRoom;

    private RequestActor(ActorContext<Command> ctx, Setup setup, TimerScheduler<Command> timers) {
        super(ctx);
        String id = setup.id();
        GenerationRequest request = setup.request();
        ActorRef<TargetActor.Command> target = setup.target();
        ActorRef<DraftActor.Command> draft = setup.draft();
        String draftName = setup.draftName();
        ActorRef<Event> client = setup.client();
        ActorRef<TrainerActor.Command> trainer = setup.trainer();
        Duration deadline = setup.deadline();
        this.directory = setup.directory();
        this.draftCapacity = setup.draftCapacity();
        this.draftTimeout = setup.draftTimeout();
        this.adaptive = setup.adaptive();
        this.id = id;
        this.target = target;
        this.draft = draft;
        this.draftName = draftName;
        this.client = client;
        this.trainer = trainer;
        this.timers = timers;
        this.deadline = deadline;
        if (deadline != null) {
            timers.startSingleTimer("deadline", DeadlinePassed.INSTANCE, deadline);
        }
        this.speculate = draft != null && request.numDraftTokens() > 0;
        this.contextRoom = Math.min(setup.targetCapacity(), setup.draftCapacity());
        this.generation = new Generation(request, new GenerationListener() {
            @Override
            public void onTokens(int[] tokens, List<TokenLogprob> logprobs) {
                client.tell(new Tokens(id, tokens, logprobs));
            }
        }, setup.eosTokenId(), setup.targetCapacity(), setup.tokenizer());
        this.scoredAdapter = ctx.messageAdapter(TargetActor.Scored.class, Scored::new);
        this.targetFoundAdapter = ctx.messageAdapter(ServiceDirectory.TargetFound.class, TargetReplaced::new);
        ctx.watchWith(target, new TargetLost(target));
        this.proposedAdapter = ctx.messageAdapter(DraftActor.Proposed.class, Proposed::new);
        target.tell(new TargetActor.Open(id, ctx.getSelf(), ctx.messageAdapter(TargetActor.Opened.class, Opened::new),
                speculate ? trainer : null));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Opened.class, this::onOpened)
                .onMessage(Scored.class, this::onScored)
                .onMessage(Proposed.class, this::onProposed)
                .onMessage(DraftTimedOut.class, this::onDraftTimedOut)
                .onMessage(TargetLost.class, this::onTargetLost)
                .onMessage(TargetReplaced.class, this::onTargetReplaced)
                .onMessageEquals(Cancel.INSTANCE, () -> finish(new Problem.Cancelled("cancelled after "
                        + generation.generated() + " tokens")))
                .onMessage(Abort.class, a -> finish(a.problem()))
                .onMessageEquals(DeadlinePassed.INSTANCE, () -> finish(new Problem.DeadlinePassed("deadline of "
                        + deadline.toMillis() + " ms passed after " + generation.generated() + " tokens")))
                .build();
    }

    private Behavior<Command> onOpened(Opened o) {
        if (!o.opened().accepted()) {
            return finish(new Problem.Overloaded(o.opened().problem()));
        }
        // the sequence so far: the prompt, or everything generated before a lost target's replacement took over
        int[] sequence = generation.prefix(generation.length());
        boolean withLogprobs = generation.request().promptLogprobs() && !promptLogprobsDone;
        if (sequence.length > 1) {
            // prefill: the cache holds every token but the last, whose logits the first round computes
            prefilled = sequence.length - 1;
            targetCached = -1; // marks the prefill in flight
            if (withLogprobs) {
                prefillSequence = sequence;
                promptEntries = new ArrayList<>(prefilled);
                prefillPart(0);
            } else {
                target.tell(TargetActor.Score.prefill(id, 0, Arrays.copyOf(sequence, prefilled), scoredAdapter));
            }
            return this;
        }
        if (withLogprobs) {
            promptLogprobsDone(List.of());
        }
        targetCached = 0;
        return nextRound();
    }

    /** The prefill's part from {@code from}, asking for the log-probability of each prompt token after it. */
    private void prefillPart(int from) {
        int end = Math.min(from + PROMPT_LOGPROBS_PART, prefilled);
        target.tell(TargetActor.Score.prefillWithLogprobs(id, from, Arrays.copyOfRange(prefillSequence, from, end),
                prefillSequence[end], generation.request().logprobs(), scoredAdapter));
    }

    private void promptLogprobsDone(List<TokenLogprob> entries) {
        generation.promptLogprobs(entries);
        promptLogprobsDone = true;
        promptEntries = null;
        prefillSequence = null;
    }

    private Behavior<Command> nextRound() {
        if (generation.finished()) {
            return finish(null);
        }
        int k = speculate ? generation.nextProposalLength(draftCapacity) : 0;
        if (adaptive != null) {
            k = Math.min(k, adaptive.nextToServe());
        }
        lengthBeforeRound = generation.length();
        round++;
        if (k > 0) {
            awaitingDraft = true;
            proposeSent = System.nanoTime();
            proposeK = k;
            proposeSeed = generation.nextSeed();
            propose(draftKnown);
            timers.startSingleTimer("draft", new DraftTimedOut(round), draftTimeout);
            return this;
        }
        pendingProposal = null;
        targetStep();
        return this;
    }

    /** Asks the draft for this round's proposal, sending the sequence from {@code from} (what it lacks). */
    private void propose(int from) {
        draft.tell(new DraftActor.Propose(id, from, generation.tail(from), proposeK, generation.request().sampling(),
                proposeSeed, getContext().getSelf(), proposedAdapter));
        draftKnown = generation.length();
    }

    /** A plain step: the target samples the next token itself. */
    private void targetStep() {
        target.tell(TargetActor.Score.step(id, targetCached, generation.tail(targetCached),
                generation.request().sampling(), generation.nextSeed(), generation.request().logprobs(),
                scoredAdapter));
    }

    private Behavior<Command> onProposed(Proposed p) {
        if (!awaitingDraft || !p.proposed().requestId().equals(id)) {
            return this; // a late answer after a timeout
        }
        if (p.proposed().problem() != null && p.proposed().resyncFrom() >= 0
                && p.proposed().resyncFrom() < draftKnown) {
            // the replica lost what it was told (a restart): the same ask with the sequence from where it holds it
            getContext().getLog().info("request {}: {}; sending the sequence from {}", id, p.proposed().problem(),
                    p.proposed().resyncFrom());
            propose(p.proposed().resyncFrom());
            return this;
        }
        awaitingDraft = false;
        timers.cancel("draft");
        if (p.proposed().problem() != null) {
            return dropDraft(p.proposed().problem());
        }
        // counts version changes; the draft actor re-read the sequence with a new version itself
        generation.switchDraftVersion(p.proposed().version());
        // a suffix proposal may be longer than k: never past max_tokens or the end of the context
        pendingProposal = p.proposed().truncated(SuffixProposer.room(generation, contextRoom));
        proposeNanos = System.nanoTime() - proposeSent;
        int[] pending = generation.tail(targetCached);
        int[] proposal = pendingProposal.tokens();
        int[] input = Arrays.copyOf(pending, pending.length + proposal.length);
        System.arraycopy(proposal, 0, input, pending.length, proposal.length);
        verifySent = System.nanoTime();
        target.tell(new TargetActor.Score(id, targetCached, input, pendingProposal.q(), generation.request().sampling(),
                generation.nextSeed(), generation.request().logprobs(), scoredAdapter));
        return this;
    }

    private Behavior<Command> onDraftTimedOut(DraftTimedOut t) {
        if (!awaitingDraft || t.round() != round) {
            return this;
        }
        awaitingDraft = false;
        return dropDraft("draft " + draftName + " did not answer within " + draftTimeout.toMillis() + " ms");
    }

    private Behavior<Command> dropDraft(String why) {
        getContext().getLog().info("request {} goes on target-only: {}", id, why);
        generation.draftFailed();
        speculate = false;
        draft.tell(new DraftActor.Release(id));
        pendingProposal = null;
        targetStep();
        return this;
    }

    private Behavior<Command> onScored(Scored s) {
        TargetActor.Scored scored = s.scored();
        if (scored.cacheFull() != null) {
            if (scored.cacheFull().prompt()) {
                return finish(new Problem.Overloaded(scored.problem()));
            }
            // what is generated stands: to the client the context ended here
            getContext().getLog().info("request {} ends with finish_reason length after {} tokens: {}", id,
                    generation.generated(), scored.problem());
            generation.endForLength();
            return finish(null);
        }
        if (scored.problem() != null) {
            return finish(new Problem.Internal("target: " + scored.problem()));
        }
        if (targetCached == -1) {
            if (promptEntries != null) {
                promptEntries.addAll(scored.logprobs());
                client.tell(new Tokens(id, new int[0], null, scored.logprobs()));
                if (promptEntries.size() < prefilled) {
                    prefillPart(promptEntries.size());
                    return this;
                }
                promptLogprobsDone(promptEntries);
            }
            targetCached = prefilled;
            return nextRound();
        }
        if (pendingProposal == null) {
            generation.targetStep(scored.tokens()[0], scored.logprobs());
            targetCached = lengthBeforeRound;
        } else {
            Verification v = scored.verification();
            generation.verified(v, scored.logprobs());
            generation.stats().recordProposer(pendingProposal.proposer(), v.proposed(), v.accepted());
            // the adaptive k is the draft model's: rounds of the suffix proposer would mislead it
            if (adaptive != null && "draft".equals(pendingProposal.proposer())) {
                adaptive.observe(v.proposed(), v.accepted());
                adaptive.observeCost(proposeNanos / 1e6 / v.proposed(), (System.nanoTime() - verifySent) / 1e6,
                        v.proposed() + 1);
            }
            targetCached = lengthBeforeRound + v.accepted();
            pendingProposal = null;
        }
        return nextRound();
    }

    /**
     * The target's node went: the work in flight there is gone, so the round starts over on another target that
     * the service directory names, after a prefill of the whole sequence so far (the draft re-reads it by itself). With no
     * other target the request ends with what it has and says why.
     */
    private Behavior<Command> onTargetLost(TargetLost l) {
        if (l.lost() != target || generation.finished()) {
            return this;
        }
        getContext().getLog().info("request {}: its target {} went", id, l.lost().path());
        awaitingDraft = false;
        timers.cancel("draft");
        pendingProposal = null;
        round++; // a proposal still on its way belongs to the abandoned round
        if (directory == null) {
            return finish(new Problem.Unavailable("the target went and no other was given"));
        }
        directory.tell(new ServiceDirectory.ReplaceTarget(l.lost(), targetFoundAdapter));
        return this;
    }

    private Behavior<Command> onTargetReplaced(TargetReplaced r) {
        ActorRef<TargetActor.Command> next = r.found().target();
        if (next == null) {
            target = null;
            return finish(new Problem.Unavailable("the target went and no other target is reachable"));
        }
        target = next;
        getContext().watchWith(target, new TargetLost(target));
        target.tell(new TargetActor.Open(id, getContext().getSelf(), getContext().messageAdapter(
                TargetActor.Opened.class, Opened::new), speculate ? trainer : null));
        return this;
    }

    private Behavior<Command> finish(Problem problem) {
        GenerationResult result = generation.result();
        // caches first: a client that submits its next request on this answer finds them free
        release();
        client.tell(new Finished(id, result, speculate ? draftName : null, problem));
        return Behaviors.stopped();
    }

    private void release() {
        if (target != null) {
            target.tell(new TargetActor.Close(id));
        }
        if (draft != null) {
            draft.tell(new DraftActor.Release(id));
        }
    }
}
