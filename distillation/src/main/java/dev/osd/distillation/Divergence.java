package dev.osd.distillation;

import ai.djl.ndarray.NDArray;
import java.util.Locale;

/**
 * How far the draft's next-token distribution q is from the target's p, as a differentiable function of the
 * draft's logits. All four work on buckets: every token the target distribution keeps, plus one bucket for
 * the mass of the tokens it does not (empty for a full distribution), so the same code serves full and top-N
 * targets.
 */
public abstract class Divergence {

    /** Keeps log(0) finite; far below any probability a float32 softmax produces that matters here. */
    static final double TINY = 1e-12;

    private final String name;

    private Divergence(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    /** KL(p‖q): soft cross-entropy against the target (the prototype's online loss). */
    public static Divergence forwardKl() {
        return new Divergence("fkl") {
            @Override
            NDArray rows(Buckets b) {
                return b.p.mul(b.p.add(TINY).log().sub(b.logQ)).sum(new int[] {-1});
            }
        };
    }

    /** KL(q‖p): mode seeking. */
    public static Divergence reverseKl() {
        return new Divergence("rkl") {
            @Override
            NDArray rows(Buckets b) {
                return b.q.mul(b.logQ.sub(b.p.add(TINY).log())).sum(new int[] {-1});
            }
        };
    }

    /** Generalised Jensen–Shannon: β·KL(p‖m) + (1−β)·KL(q‖m) with m = β·p + (1−β)·q. */
    public static Divergence jensenShannon(double beta) {
        if (!(beta > 0 && beta < 1)) {
            throw new IllegalArgumentException("JSD weight β must lie in (0, 1), got " + beta);
        }
        return new Divergence(String.format(Locale.ROOT, "jsd%s", beta == 0.5 ? "" : ":" + beta)) {
            @Override
            NDArray rows(Buckets b) {
                NDArray logM = b.p.mul(beta).add(b.q.mul(1 - beta)).add(TINY).log();
                NDArray toP = b.p.mul(b.p.add(TINY).log().sub(logM)).sum(new int[] {-1}).mul(beta);
                NDArray toQ = b.q.mul(b.logQ.sub(logM)).sum(new int[] {-1}).mul(1 - beta);
                return toP.add(toQ);
            }
        };
    }

    /** Total variation ½·Σ|p − q|; 1 − TVD is the expected acceptance of one proposal. */
    public static Divergence totalVariation() {
        return new Divergence("tvd") {
            @Override
            NDArray rows(Buckets b) {
                return b.p.sub(b.q).abs().sum(new int[] {-1}).mul(0.5);
            }
        };
    }

    /** fkl, rkl, jsd (β = 0.5), jsd:β, or tvd. */
    public static Divergence parse(String s) {
        String t = s.toLowerCase(Locale.ROOT);
        if (t.startsWith("jsd:")) {
            try {
                return jensenShannon(Double.parseDouble(t.substring(4)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("JSD weight in '" + s + "' is not a number");
            }
        }
        return switch (t) {
            case "fkl" -> forwardKl();
            case "rkl" -> reverseKl();
            case "jsd" -> jensenShannon(0.5);
            case "tvd" -> totalVariation();
            default -> throw new IllegalArgumentException("unknown divergence '" + s + "' (fkl, rkl, jsd, jsd:β, tvd)");
        };
    }

    /**
     * The divergence per row.
     *
     * @param logits (rows, vocab) the draft's logits at the scored positions
     * @param p (rows, vocab + 1) target probabilities, 0 outside the kept tokens, the rest mass in the last column
     * @param support (rows, vocab) 1 where the target keeps a token's probability, else 0
     */
    public NDArray perRow(NDArray logits, NDArray p, NDArray support) {
        NDArray logQ = logits.logSoftmax(-1);
        NDArray q = logQ.exp().mul(support);
        NDArray qRest = q.sum(new int[] {-1}, true).neg().add(1).clip(0, 1);
        Buckets b = new Buckets(p, q.concat(qRest, -1), logQ.concat(qRest.add(TINY).log(), -1));
        return rows(b);
    }

    /** The mean over rows: the loss of a batch. */
    public NDArray mean(NDArray logits, NDArray p, NDArray support) {
        return perRow(logits, p, support).mean();
    }

    /** Per-bucket p, q and log q, each (rows, vocab + 1). */
    record Buckets(NDArray p, NDArray q, NDArray logQ) {
    }

    abstract NDArray rows(Buckets b);

    @Override
    public String toString() {
        return name;
    }
}
