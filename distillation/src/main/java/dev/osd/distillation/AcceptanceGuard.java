package dev.osd.distillation;

import dev.osd.drafts.DraftVersion;
import java.util.List;

/**
 * Keeps training from making a draft worse. It holds the last version it judged good and, on every batch of
 * fresh records (traffic neither version has trained on), scores both the current version and that one by
 * expected acceptance. Judging on the same records keeps a shift in the traffic from looking like a bad
 * version. Once a window of positions is scored: if the current version is clearly below the good one, the
 * trainer rolls back to it; otherwise the current version becomes the good one.
 */
final class AcceptanceGuard implements AutoCloseable {

    /** What the guard concluded after a batch. */
    record Verdict(boolean rollback, DraftVersion good, double current, double reference) {
    }

    private final int window;
    private final double tolerance;
    private DraftVersion good;
    private double currentSum;
    private double goodSum;
    private int positions;

    /**
     * @param window positions scored before a judgement
     * @param tolerance how far below the good version's expected acceptance the current one may fall
     */
    AcceptanceGuard(int window, double tolerance) {
        this.window = window;
        this.tolerance = tolerance;
    }

    /**
     * Scores a batch of fresh records; returns a verdict when the window is full, else null.
     *
     * @param current the version serving now, held by the caller for the call
     */
    Verdict observe(DraftVersion current, List<DistillationRecord> fresh) {
        if (good == null) {
            good = hold(current);
        }
        int n = 0;
        for (DistillationRecord r : fresh) {
            n += r.positions().length;
        }
        double c = Evaluation.expectedAcceptance(current.model(), fresh);
        double g = good == current ? c : Evaluation.expectedAcceptance(good.model(), fresh);
        currentSum += c * n;
        goodSum += g * n;
        positions += n;
        if (positions < window) {
            return null;
        }
        double cur = currentSum / positions;
        double ref = goodSum / positions;
        currentSum = 0;
        goodSum = 0;
        positions = 0;
        if (ref - cur > tolerance) {
            return new Verdict(true, good, cur, ref);
        }
        if (good != current) {
            good.close();
            good = hold(current);
        }
        return new Verdict(false, good, cur, ref);
    }

    /** After a rollback the restored weights are published as {@code restored}: judge from there. */
    void restart(DraftVersion restored) {
        if (good != null) {
            good.close();
        }
        good = hold(restored);
    }

    private static DraftVersion hold(DraftVersion v) {
        if (!v.retain()) {
            throw new IllegalStateException(v + " was already freed");
        }
        return v;
    }

    @Override
    public void close() {
        if (good != null) {
            good.close();
            good = null;
        }
    }
}
