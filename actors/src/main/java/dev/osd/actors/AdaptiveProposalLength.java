package dev.osd.actors;

/**
 * Chooses the proposal length k of one draft from what was measured: its token acceptance α (accepted ÷
 * judged proposals over exponentially decaying sums) and the cost ratio c of one draft forward to one target
 * verification (as requests experience them).
 * The expected tokens per unit of time of k proposals is (1 − α^(k+1)) / ((1 − α)(k·c + 1)) (the paper's
 * speedup model); the k that maximises it within [min, max] is used, so a draft that learns gets longer
 * proposals and one that falls behind gets shorter ones (0 would mean: not worth speculating).
 */
public final class AdaptiveProposalLength {

    private final int min;
    private final int max;
    private final double smoothing;
    private double accepted;
    private double judged;
    private double costRatio;

    /**
     * @param initialAlpha the acceptance assumed before any round was measured
     * @param costRatio draft forward time ÷ target verification time, measured at start-up
     * @param smoothing weight of each new round in the moving average
     */
    public AdaptiveProposalLength(int min, int max, double initialAlpha, double costRatio, double smoothing) {
        if (min < 0 || max < min) {
            throw new IllegalArgumentException("proposal length bounds must satisfy 0 <= min <= max, got " + min
                    + ".." + max);
        }
        this.min = min;
        this.max = max;
        // the assumed acceptance counts as one judged position until rounds are measured
        this.accepted = initialAlpha;
        this.judged = 1;
        this.costRatio = costRatio;
        this.smoothing = smoothing;
    }

    /** Records one verified round: how many of its proposals were accepted before the first rejection. */
    public synchronized void observe(int proposed, int accepted) {
        if (proposed <= 0) {
            return;
        }
        // the round judged its accepted proposals and, unless all were accepted, the first rejected one;
        // α = accepted ÷ judged over exponentially decaying sums (the estimate of the paper's α)
        this.accepted = (1 - smoothing) * this.accepted + accepted;
        this.judged = (1 - smoothing) * this.judged + accepted + (accepted < proposed ? 1 : 0);
    }

    public synchronized void costRatio(double c) {
        this.costRatio = c;
    }

    /**
     * Records what one round cost as serving saw it: the draft's time per proposed token and the target's
     * time for the verification; c follows their ratio (a decaying average), so the start-up guess is
     * replaced by what requests actually wait for.
     */
    public synchronized void observeCost(double draftMillisPerToken, double verifyMillis) {
        if (draftMillisPerToken > 0 && verifyMillis > 0) {
            costRatio += smoothing * (draftMillisPerToken / verifyMillis - costRatio);
        }
    }

    public synchronized double costRatio() {
        return costRatio;
    }

    public synchronized double alpha() {
        return accepted / judged;
    }

    /** The k with the highest expected tokens per unit of time. */
    public synchronized int next() {
        int best = min;
        double bestRate = rate(min);
        for (int k = min + 1; k <= max; k++) {
            double r = rate(k);
            if (r > bestRate + 1e-12) {
                best = k;
                bestRate = r;
            }
        }
        return best;
    }

    /** Expected tokens per target-verification time for proposals of k. */
    double rate(int k) {
        double a = Math.min(alpha(), 0.999999);
        double tokens = (1 - Math.pow(a, k + 1)) / (1 - a);
        return tokens / (k * costRatio + 1);
    }
}
