package dev.osd.engine;

/**
 * Speculation figures of one generation, accumulated round by round: the counters vLLM reports per request,
 * acceptance per proposal position, and the expected acceptance Σ min(p, q).
 */
public final class SpeculationStats {

    private int steps;
    private int draftTokens;
    private int acceptedTokens;
    private long[] acceptedPerPosition = new long[0];
    private long[] proposedPerPosition = new long[0];
    private double expectedAcceptanceSum;
    private int draftFailures;

    void record(Verification v) {
        steps++;
        draftTokens += v.proposed();
        acceptedTokens += v.accepted();
        if (acceptedPerPosition.length < v.proposed()) {
            acceptedPerPosition = java.util.Arrays.copyOf(acceptedPerPosition, v.proposed());
            proposedPerPosition = java.util.Arrays.copyOf(proposedPerPosition, v.proposed());
        }
        for (int i = 0; i < v.proposed(); i++) {
            proposedPerPosition[i]++;
            if (v.acceptedAt(i)) {
                acceptedPerPosition[i]++;
            }
            expectedAcceptanceSum += v.expectedAcceptance()[i];
        }
    }

    void recordDraftFailure() {
        draftFailures++;
    }

    /** Verification rounds (num_spec_steps). */
    public int steps() {
        return steps;
    }

    /** Proposed draft tokens (num_draft_tokens). */
    public int draftTokens() {
        return draftTokens;
    }

    /** Accepted draft tokens (num_accepted_draft_tokens). */
    public int acceptedTokens() {
        return acceptedTokens;
    }

    /** accepted / proposed, the draft acceptance rate α as vLLM reports it; NaN before any proposal. */
    public double acceptanceRate() {
        return draftTokens == 0 ? Double.NaN : (double) acceptedTokens / draftTokens;
    }

    /** Tokens emitted per verification round: 1 + accepted / steps. */
    public double meanAcceptanceLength() {
        return steps == 0 ? Double.NaN : 1 + (double) acceptedTokens / steps;
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
