package dev.osd.routing;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Learns which draft serves which queries best, from the acceptance each served query achieved: per draft a
 * logistic regression over hashed n-grams that predicts the acceptance a query would get from that draft,
 * trained online by stochastic gradient steps. It picks the draft with the highest prediction and explores
 * another one with a small probability, so a draft that got better is noticed (a contextual bandit).
 */
public final class LearnedRouter {

    static final int BUCKETS = 1 << 14;

    private final Map<String, double[]> weights = new LinkedHashMap<>();
    private final Map<String, Long> observations = new LinkedHashMap<>();
    private final double learningRate;
    private final double exploration;
    private final SplittableRandom random;

    /**
     * @param learningRate SGD step on the logistic loss against the observed acceptance
     * @param exploration probability of serving a query with another draft than the predicted best
     */
    public LearnedRouter(double learningRate, double exploration, long seed) {
        this.learningRate = learningRate;
        this.exploration = exploration;
        this.random = new SplittableRandom(seed);
    }

    /** Predicted acceptance of a query under a draft (0.5 for a draft never observed). */
    public synchronized double predict(String query, String draft) {
        double[] w = weights.get(draft);
        return w == null ? 0.5 : sigmoid(dot(w, HashedNgrams.of(query, BUCKETS)));
    }

    /** The draft among candidates with the best predicted acceptance, or, with probability ε, another one. */
    public synchronized String choose(String query, List<String> candidates) {
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("no draft to choose from");
        }
        if (candidates.size() > 1 && random.nextDouble() < exploration) {
            return candidates.get(random.nextInt(candidates.size()));
        }
        int[] x = HashedNgrams.of(query, BUCKETS);
        String best = candidates.get(0);
        double bestScore = Double.NEGATIVE_INFINITY;
        for (String d : candidates) {
            double[] w = weights.get(d);
            double score = w == null ? 0 : dot(w, x);
            if (score > bestScore) {
                bestScore = score;
                best = d;
            }
        }
        return best;
    }

    /** Learns from one served query: the draft that served it and the acceptance it achieved (0..1). */
    public synchronized void observe(String query, String draft, double acceptance) {
        if (!(acceptance >= 0 && acceptance <= 1)) {
            return; // a request without proposals teaches nothing
        }
        double[] w = weights.computeIfAbsent(draft, d -> new double[BUCKETS]);
        int[] x = HashedNgrams.of(query, BUCKETS);
        double error = acceptance - sigmoid(dot(w, x));
        double step = learningRate * error / Math.sqrt(x.length);
        for (int i : x) {
            w[i] += step;
        }
        observations.merge(draft, 1L, Long::sum);
    }

    /** Queries observed per draft. */
    public synchronized long observations(String draft) {
        return observations.getOrDefault(draft, 0L);
    }

    private static double dot(double[] w, int[] x) {
        double s = 0;
        for (int i : x) {
            s += w[i];
        }
        return s / Math.sqrt(x.length);
    }

    private static double sigmoid(double z) {
        return 1 / (1 + Math.exp(-z));
    }
}
