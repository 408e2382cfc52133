package dev.osd.actors;

import java.util.Arrays;

/**
 * Chooses the proposal length k of one draft from what was measured: its token acceptance α (accepted ÷
 * judged proposals over exponentially decaying sums), the draft's time per proposed token, and the target's
 * verification time as a function of the rows it scores (k + 1), which on a CPU is not constant.
 *
 * <p>The expected tokens of a round of k proposals are (1 − α^(k+1)) / (1 − α) (the paper's model); its time
 * is k · draft + V(k + 1). The k that maximises tokens per time within [min, max] is used, so a draft that
 * learns gets longer proposals and one that falls behind gets shorter ones. V(r) is the decaying average of
 * the verifications measured with r rows; a row count not yet measured is estimated from the measured ones
 * through the line fitted to the measured ones (or a prior slope while only one is measured), so rounds at one
 * length also inform the others.
 * {@link #nextToServe} now and then tries a neighbour of the best k, so that the lengths around it stay
 * measured; which k a round uses never changes what is generated, only how fast.
 */
public final class AdaptiveProposalLength {

    private static final int EXPLORE_EVERY = 16;

    private final int min;
    private final int max;
    private final double smoothing;
    private final double slope;
    private double accepted;
    private double judged;
    private double costRatio; // draft per token ÷ one-row verification, before anything is measured
    private double draftMillis = Double.NaN; // per proposed token
    private final double[] verifyMillis; // by rows scored, NaN until measured
    private int lastProposed;
    private long served;

    /**
     * @param initialAlpha the acceptance assumed before any round was measured
     * @param costRatio draft forward time ÷ target verification time, assumed until rounds are measured
     * @param smoothing weight of each new round in the moving averages
     */
    public AdaptiveProposalLength(int min, int max, double initialAlpha, double costRatio, double smoothing) {
        this(min, max, initialAlpha, costRatio, smoothing, 0);
    }

    /**
     * @param slope the prior growth of verification time per extra row, relative to one row (0: constant)
     */
    public AdaptiveProposalLength(int min, int max, double initialAlpha, double costRatio, double smoothing,
            double slope) {
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
        this.slope = slope;
        this.verifyMillis = new double[max + 2];
        Arrays.fill(verifyMillis, Double.NaN);
    }

    /** Records one verified round: how many of its proposals were accepted before the first rejection. */
    public synchronized void observe(int proposed, int accepted) {
        if (proposed <= 0) {
            return;
        }
        lastProposed = proposed;
        // the round judged its accepted proposals and, unless all were accepted, the first rejected one;
        // α = accepted ÷ judged over exponentially decaying sums (the estimate of the paper's α)
        this.accepted = (1 - smoothing) * this.accepted + accepted;
        this.judged = (1 - smoothing) * this.judged + accepted + (accepted < proposed ? 1 : 0);
    }

    public synchronized void costRatio(double c) {
        this.costRatio = c;
        draftMillis = Double.NaN;
        Arrays.fill(verifyMillis, Double.NaN);
    }

    /**
     * Records what one round cost as serving saw it: the draft's time per proposed token and the target's time
     * for a verification of {@code rows} rows (the round's proposals + 1).
     */
    public synchronized void observeCost(double draftMillisPerToken, double verifyMillis, int rows) {
        if (draftMillisPerToken > 0) {
            draftMillis = Double.isNaN(draftMillis) ? draftMillisPerToken
                    : draftMillis + smoothing * (draftMillisPerToken - draftMillis);
        }
        if (verifyMillis > 0 && rows >= 1 && rows < this.verifyMillis.length) {
            double v = this.verifyMillis[rows];
            this.verifyMillis[rows] = Double.isNaN(v) ? verifyMillis : v + smoothing * (verifyMillis - v);
        }
    }

    /** {@link #observeCost(double, double, int)} for the round last given to {@link #observe}. */
    public synchronized void observeCost(double draftMillisPerToken, double verifyMillis) {
        observeCost(draftMillisPerToken, verifyMillis, lastProposed + 1);
    }

    /** Draft time per token ÷ one-row verification time, as now estimated. */
    public synchronized double costRatio() {
        double base = oneRow();
        return Double.isNaN(draftMillis) ? costRatio : draftMillis / base;
    }

    public synchronized double alpha() {
        return accepted / judged;
    }

    /** Estimated verification time of {@code rows} rows (in ms once measured, else in one-row units). */
    public synchronized double verificationCost(int rows) {
        double v = rows < verifyMillis.length ? verifyMillis[rows] : Double.NaN;
        if (!Double.isNaN(v)) {
            return v;
        }
        double[] line = line();
        return line[0] + line[1] * (rows - 1);
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

    /** The k for the next round served: {@link #next}, and every so often a neighbour of it, to keep it measured. */
    public synchronized int nextToServe() {
        int best = next();
        served++;
        if (served % EXPLORE_EVERY != 0) {
            return best;
        }
        int neighbour = (served / EXPLORE_EVERY) % 2 == 0 ? best + 1 : best - 1;
        return Math.max(Math.max(min, 1), Math.min(max, neighbour));
    }

    /** Expected tokens per unit of time for proposals of k. */
    synchronized double rate(int k) {
        double a = Math.min(alpha(), 0.999999);
        double tokens = (1 - Math.pow(a, k + 1)) / (1 - a);
        double draft = Double.isNaN(draftMillis) ? costRatio * oneRow() : draftMillis;
        return tokens / (k * draft + verificationCost(k + 1));
    }

    /**
     * V(r) ≈ a + b·(r − 1) as {a, b}: the least-squares line through the measured row counts when there are
     * two or more, else the prior profile 1 + slope·(r − 1) scaled to the one measured (or to 1 unit).
     */
    private double[] line() {
        double n = 0;
        double sx = 0;
        double sy = 0;
        double sxx = 0;
        double sxy = 0;
        for (int r = 1; r < verifyMillis.length; r++) {
            if (!Double.isNaN(verifyMillis[r])) {
                double x = r - 1;
                n++;
                sx += x;
                sy += verifyMillis[r];
                sxx += x * x;
                sxy += x * verifyMillis[r];
            }
        }
        if (n >= 2 && n * sxx - sx * sx > 0) {
            double b = Math.max(0, (n * sxy - sx * sy) / (n * sxx - sx * sx));
            double a = Math.max(1e-9, (sy - b * sx) / n);
            return new double[] {a, b};
        }
        double a = n == 1 ? sy / (1 + slope * sx) : 1;
        return new double[] {a, slope * a};
    }

    /** One-row verification time as now estimated. */
    private double oneRow() {
        return !Double.isNaN(verifyMillis[1]) ? verifyMillis[1] : line()[0];
    }
}
