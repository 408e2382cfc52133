package dev.osd.engine;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Speculation figures of one generation, accumulated round by round: the counters vLLM reports per request,
 * acceptance per proposal position, and the expected acceptance Σ min(p, q).
 */
public final class SpeculationStats {

    private int rounds;
    private int draftTokens;
    private int acceptedTokens;
    private int rejections;
    private long[] acceptedPerPosition = new long[0];
    private long[] proposedPerPosition = new long[0];
    private double expectedAcceptanceSum;
    private int draftFailures;
    private long firstDraftVersion = -1;
    private long lastDraftVersion = -1;
    private int draftVersionChanges = -1;
    private final Map<String, ProposerFigures> byProposer = new LinkedHashMap<>();

    /** One proposer's rounds in a generation: how many, the tokens it proposed and those accepted. */
    public record ProposerFigures(int rounds, int proposed, int accepted) {
        ProposerFigures plus(int proposedNow, int acceptedNow) {
            return new ProposerFigures(rounds + 1, proposed + proposedNow, accepted + acceptedNow);
        }
    }

    /** A verified round made by {@code proposer} (draft, suffix, suffix+draft). */
    public void recordProposer(String proposer, int proposed, int accepted) {
        byProposer.merge(proposer, new ProposerFigures(1, proposed, accepted),
                (a, b) -> a.plus(b.proposed(), b.accepted()));
    }

    /** The rounds by who proposed them, in the order the proposers first served. */
    public Map<String, ProposerFigures> byProposer() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(byProposer));
    }

    void record(Verification v) {
        rounds++;
        draftTokens += v.proposed();
        acceptedTokens += v.accepted();
        if (!v.fullyAccepted()) {
            rejections++;
        }
        if (acceptedPerPosition.length < v.proposed()) {
            acceptedPerPosition = Arrays.copyOf(acceptedPerPosition, v.proposed());
            proposedPerPosition = Arrays.copyOf(proposedPerPosition, v.proposed());
        }
        for (int i = 0; i < v.proposed(); i++) {
            proposedPerPosition[i]++;
            if (v.acceptedAt(i)) {
                acceptedPerPosition[i]++;
            }
            expectedAcceptanceSum += v.expectedAcceptance()[i];
        }
    }

    void recordDraftVersion(long version) {
        if (firstDraftVersion < 0) {
            firstDraftVersion = version;
        }
        lastDraftVersion = version;
        draftVersionChanges++;
    }

    /** The draft version of the first proposal, or -1 without one. */
    public long firstDraftVersion() {
        return firstDraftVersion;
    }

    /** The draft version of the last proposal, or -1 without one. */
    public long lastDraftVersion() {
        return lastDraftVersion;
    }

    /** How often a new draft version took over during the request. */
    public int draftVersionChanges() {
        return Math.max(0, draftVersionChanges);
    }

    void recordDraftFailure() {
        draftFailures++;
    }

    /** Rounds: proposals and their verifications (vLLM's per-request figure calls them num_spec_steps). */
    public int rounds() {
        return rounds;
    }

    /** Proposed draft tokens (num_draft_tokens). */
    public int draftTokens() {
        return draftTokens;
    }

    /** Accepted draft tokens (num_accepted_draft_tokens). */
    public int acceptedTokens() {
        return acceptedTokens;
    }

    /**
     * The acceptance rate, accepted ÷ proposed, as vLLM reports it (not α: it counts the proposals after a rejection,
     * which nobody judged); NaN before any proposal.
     */
    public double acceptanceRate() {
        return draftTokens == 0 ? Double.NaN : (double) acceptedTokens / draftTokens;
    }

    /**
     * Token acceptance α, as the paper measures it: the share of judged proposal positions that were accepted,
     * where a round judges its proposals up to and including the first rejected one (the rest are discarded
     * unjudged). Under the paper's model, where each proposal is accepted with probability α, a round of k
     * emits (1 − α^(k+1)) / (1 − α) tokens on average. {@link #acceptanceRate()} (accepted ÷ proposed, as
     * vLLM reports) counts the discarded proposals too and is lower for the same draft.
     */
    public double tokenAcceptance() {
        int judged = acceptedTokens + rejections;
        return judged == 0 ? Double.NaN : (double) acceptedTokens / judged;
    }

    /** Rounds that ended in a rejection (the others accepted all k proposals). */
    public int rejections() {
        return rejections;
    }

    /** Mean acceptance length: tokens emitted per round, 1 + accepted ÷ rounds. */
    public double meanAcceptanceLength() {
        return rounds == 0 ? Double.NaN : 1 + (double) acceptedTokens / rounds;
    }

    /** Mean of Σ_x min(p, q) over every verified position: the acceptance the draft earns in expectation. */
    public double expectedAcceptance() {
        return draftTokens == 0 ? Double.NaN : expectedAcceptanceSum / draftTokens;
    }

    /** Accepted count at proposal position i (0-based). */
    public long[] acceptedPerPosition() {
        return acceptedPerPosition.clone();
    }

    /** Proposed count at proposal position i (0-based). */
    public long[] proposedPerPosition() {
        return proposedPerPosition.clone();
    }

    /** Times the draft failed and the request went on target-only. */
    public int draftFailures() {
        return draftFailures;
    }
}
