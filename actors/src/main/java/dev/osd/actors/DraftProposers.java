package dev.osd.actors;

import com.typesafe.config.Config;
import dev.osd.engine.DraftSource;
import dev.osd.engine.Proposal;
import dev.osd.engine.SparseDistribution;
import dev.osd.engine.SuffixProposer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A draft replica's proposers: the draft model, and the suffix proposer that learns from the sequences the
 * replica served ({@link SuffixProposer}). Each {@code Propose} is planned here before it joins a batch: a
 * round the suffix serves alone is answered at once, without a forward; a round the suffix match starts and the
 * draft extends goes to the batch with the match appended to its sequence, and its answer gets the match's
 * one-hot tokens in front. Confined to the replica's actor.
 */
final class DraftProposers {

    static final String PROPOSER = "osd.draft.suffix.proposer";
    static final String TOKENS = "osd.draft.suffix.tokens";
    static final String MAX_TOKENS = "osd.draft.suffix.max-tokens";

    private final SuffixProposer proposer;
    private final DraftSource source;
    private final int vocab;
    // the one-hot tokens a queued proposal starts with (a suffix match the draft extends)
    private final Map<String, int[]> given = new HashMap<>();

    DraftProposers(SuffixProposer proposer, DraftSource source, int vocab) {
        this.proposer = proposer;
        this.source = source;
        this.vocab = vocab;
    }

    static DraftProposers from(Config config, DraftSource source, int vocab) {
        SuffixProposer.Mode mode = SuffixProposer.Mode.parse(config.getString(PROPOSER));
        int tokens = config.getInt(TOKENS);
        int max = config.getInt(MAX_TOKENS);
        return new DraftProposers(new SuffixProposer(mode, tokens, max), source, vocab);
    }

    SuffixProposer proposer() {
        return proposer;
    }

    /**
     * Plans the round: the proposal the draft model is to draw (the request's own, or one after a suffix
     * match), or null when the suffix alone answered it.
     *
     * @param positions the request's cache positions: a proposal fits in what is left of them
     */
    DraftActor.Propose plan(DraftActor.Propose p, int positions) {
        if (proposer.mode() == SuffixProposer.Mode.DRAFT || p.tokens().length == 0 || p.k() < 1) {
            return p;
        }
        long now = System.nanoTime();
        SuffixProposer.Choice c = proposer.next(p.requestId(), p.tokens(), p.k(),
                positions - p.tokens().length - 1, now);
        switch (c.kind()) {
            case SUFFIX -> {
                long version;
                try (DraftSource.Lease lease = source.acquire()) {
                    version = lease.version();
                }
                proposer.proposed(p.requestId(), new int[0], 0, 0, System.nanoTime());
                p.replyTo().tell(new DraftActor.Proposed(p.requestId(), c.suffix(),
                        SuffixProposer.oneHot(c.suffix()), version, null, c.kind().label()));
                return null;
            }
            case SUFFIX_DRAFT -> {
                given.put(p.requestId(), c.suffix());
                int[] sequence = Arrays.copyOf(p.tokens(), p.tokens().length + c.suffix().length);
                System.arraycopy(c.suffix(), 0, sequence, p.tokens().length, c.suffix().length);
                return new DraftActor.Propose(p.requestId(), sequence, c.draftTokens(), p.sampling(), p.seed(),
                        p.owner(), p.replyTo());
            }
            default -> {
                return p;
            }
        }
    }

    /** The answer to a proposal the draft model drew in {@code drawNanos} (the whole batch's forwards). */
    DraftActor.Proposed drafted(DraftActor.Propose p, Proposal drawn, long version, long drawNanos) {
        int[] first = given.remove(p.requestId());
        if (proposer.mode() == SuffixProposer.Mode.DRAFT) {
            return new DraftActor.Proposed(p.requestId(), drawn.tokens(), drawn.q(), version, null);
        }
        proposer.proposed(p.requestId(), drawn.tokens(), drawNanos, drawn.tokens().length, System.nanoTime());
        if (first == null) {
            return new DraftActor.Proposed(p.requestId(), drawn.tokens(), drawn.q(), version, null);
        }
        int n = first.length + drawn.tokens().length;
        int[] tokens = Arrays.copyOf(first, n);
        System.arraycopy(drawn.tokens(), 0, tokens, first.length, drawn.tokens().length);
        SparseDistribution[] q = Arrays.copyOf(SuffixProposer.oneHot(first), n);
        System.arraycopy(drawn.q(), 0, q, first.length, drawn.tokens().length);
        return new DraftActor.Proposed(p.requestId(), tokens, q, version, null,
                SuffixProposer.Kind.SUFFIX_DRAFT.label());
    }

    /** The request let its cache go: what it was served joins the index. */
    void release(String requestId) {
        given.remove(requestId);
        proposer.finish(requestId, null);
    }
}
