package dev.osd.routing;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Groups queries into traffic clusters as they come, with no classes given: each query's hashed n-grams (the
 * learned router's features) join the cluster whose centroid is nearest by cosine similarity, or start a new
 * cluster when none is near enough (leader clustering). Per cluster it keeps the acceptance each draft earned
 * there and its most recent queries, which is what the decision to spawn a draft for a cluster is made on.
 * Memory is bounded: at most {@code maxClusters} clusters (the least recently seen unowned one goes first), at
 * most {@code maxFeatures} centroid weights per cluster, {@code recentQueries} queries per cluster.
 */
public final class TrafficClusters {

    /**
     * @param maxClusters clusters held at once
     * @param similarity least cosine similarity for a query to join a cluster
     * @param maxFeatures centroid weights kept per cluster (the heaviest)
     * @param recentQueries queries kept per cluster
     */
    public record Settings(int maxClusters, double similarity, int maxFeatures, int recentQueries) {
        public Settings {
            if (maxClusters < 1 || maxFeatures < 1 || recentQueries < 1) {
                throw new IllegalArgumentException("cluster bounds must be positive: " + maxClusters + ", "
                        + maxFeatures + ", " + recentQueries);
            }
            if (!(similarity > 0 && similarity < 1)) {
                throw new IllegalArgumentException("cluster similarity must lie in (0, 1), was " + similarity);
            }
        }

        public static Settings defaults() {
            return new Settings(64, 0.35, 512, 64);
        }
    }

    /**
     * What is known of one cluster.
     *
     * @param requests queries assigned to it so far
     * @param acceptance per draft, the mean token acceptance α of its last observed requests in this cluster
     * @param observed per draft, requests observed in this cluster
     * @param owner the draft spawned for it, or null
     * @param idle queries the whole system saw since this cluster last saw one
     */
    public record Stats(String id, long requests, Map<String, Double> acceptance, Map<String, Long> observed,
            String owner, long idle) {

        /** The draft that served most of its observed requests, or null. */
        public String mostlyServedBy() {
            return observed.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey)
                    .orElse(null);
        }
    }

    /** Requests each per-draft acceptance is averaged over in a cluster (the newest). */
    static final int WINDOW = 40;

    private final Settings settings;
    private final Map<String, Cluster> clusters = new LinkedHashMap<>();
    private long next;
    private long seen;

    public TrafficClusters(Settings settings) {
        this.settings = settings;
    }

    /** The cluster a query belongs to; the query joins it (or founds a new one). */
    public synchronized String assign(String query) {
        int[] x = features(query);
        seen++;
        Cluster best = nearest(x);
        if (best == null) {
            if (clusters.size() >= settings.maxClusters()) {
                evict();
            }
            best = new Cluster("c" + (++next));
            clusters.put(best.id, best);
        }
        best.add(x, query, settings);
        best.lastSeen = seen;
        return best.id;
    }

    /** The cluster a query would join, without changing anything; empty when it would found a new one. */
    public synchronized Optional<String> find(String query) {
        Cluster c = nearest(features(query));
        return Optional.ofNullable(c == null ? null : c.id);
    }

    /**
     * The cluster nearest to a text, however far (empty when it shares no feature with any): for texts that are
     * not queries, such as a recorded prompt with its answer, which no cluster's threshold was set for.
     */
    public synchronized Optional<String> closest(String text) {
        int[] x = features(text);
        Cluster best = null;
        double bestSimilarity = 0;
        for (Cluster c : clusters.values()) {
            double s = c.similarity(x);
            if (s > bestSimilarity) {
                bestSimilarity = s;
                best = c;
            }
        }
        return Optional.ofNullable(best == null ? null : best.id);
    }

    /** The acceptance a request of {@code cluster} got from {@code draft} (ignored for an unknown cluster). */
    public synchronized void observe(String cluster, String draft, double acceptance) {
        Cluster c = clusters.get(cluster);
        if (c == null || draft == null || !(acceptance >= 0 && acceptance <= 1)) {
            return;
        }
        c.acceptance.computeIfAbsent(draft, d -> new ArrayDeque<>()).addLast(acceptance);
        Deque<Double> window = c.acceptance.get(draft);
        while (window.size() > WINDOW) {
            window.removeFirst();
        }
        c.observed.merge(draft, 1L, Long::sum);
    }

    /** Marks a cluster as served by its own draft (null: by nobody in particular again). */
    public synchronized void own(String cluster, String draft) {
        Cluster c = clusters.get(cluster);
        if (c != null) {
            c.owner = draft;
        }
    }

    /** Clusters that {@code draft} owned are nobody's again (it was retired), and are judged afresh. */
    public synchronized void disown(String draft) {
        for (Cluster c : clusters.values()) {
            if (draft.equals(c.owner)) {
                c.owner = null;
                c.acceptance.clear();
                c.observed.clear();
            }
        }
    }

    /** The draft spawned for a cluster, if any. */
    public synchronized Optional<String> owner(String cluster) {
        Cluster c = clusters.get(cluster);
        return Optional.ofNullable(c == null ? null : c.owner);
    }

    /** The cluster's newest queries, oldest first. */
    public synchronized List<String> recentQueries(String cluster) {
        Cluster c = clusters.get(cluster);
        return c == null ? List.of() : List.copyOf(c.recent);
    }

    public synchronized List<Stats> stats() {
        List<Stats> out = new ArrayList<>();
        for (Cluster c : clusters.values()) {
            Map<String, Double> acceptance = new LinkedHashMap<>();
            c.acceptance.forEach((d, w) -> acceptance.put(d, w.stream().mapToDouble(Double::doubleValue)
                    .average().orElse(Double.NaN)));
            // insertion order (first served first), so a tie in mostlyServedBy is broken the same way every time
            out.add(new Stats(c.id, c.requests, acceptance, Collections.unmodifiableMap(new LinkedHashMap<>(c.observed)),
                    c.owner, seen - c.lastSeen));
        }
        return out;
    }

    public synchronized Optional<Stats> stats(String cluster) {
        return stats().stream().filter(s -> s.id().equals(cluster)).findFirst();
    }

    public synchronized int size() {
        return clusters.size();
    }

    private Cluster nearest(int[] x) {
        Cluster best = null;
        double bestSimilarity = settings.similarity();
        for (Cluster c : clusters.values()) {
            double s = c.similarity(x);
            if (s >= bestSimilarity) {
                bestSimilarity = s;
                best = c;
            }
        }
        return best;
    }

    /** Frees room: the least recently seen cluster that no draft owns (an owned one only when all are). */
    private void evict() {
        Comparator<Cluster> oldest = Comparator.comparingLong(c -> c.lastSeen);
        Cluster victim = clusters.values().stream().filter(c -> c.owner == null).min(oldest)
                .orElseGet(() -> clusters.values().stream().min(oldest).orElseThrow());
        clusters.remove(victim.id);
    }

    /** The query's hashed unigrams and bigrams, without the bias bucket (which every query shares). */
    private static int[] features(String query) {
        int[] all = HashedNgrams.of(query, LearnedRouter.BUCKETS);
        return Arrays.stream(all).filter(i -> i != 0).toArray();
    }

    private static final class Cluster {
        final String id;
        // sum of its members' unit feature vectors, trimmed to the heaviest weights
        final Map<Integer, Double> centroid = new HashMap<>();
        double norm;
        long requests;
        long lastSeen;
        String owner;
        final Map<String, Deque<Double>> acceptance = new LinkedHashMap<>();
        final Map<String, Long> observed = new LinkedHashMap<>();
        final Deque<String> recent = new ArrayDeque<>();

        Cluster(String id) {
            this.id = id;
        }

        double similarity(int[] x) {
            if (x.length == 0 || norm == 0) {
                return 0;
            }
            double dot = 0;
            for (int i : x) {
                dot += centroid.getOrDefault(i, 0.0);
            }
            return dot / (norm * Math.sqrt(x.length));
        }

        void add(int[] x, String query, Settings settings) {
            requests++;
            double w = x.length == 0 ? 0 : 1 / Math.sqrt(x.length);
            for (int i : x) {
                centroid.merge(i, w, Double::sum);
            }
            if (centroid.size() > settings.maxFeatures()) {
                List<Map.Entry<Integer, Double>> light = new ArrayList<>(centroid.entrySet());
                light.sort(Map.Entry.comparingByValue());
                for (int k = 0; k < light.size() - settings.maxFeatures(); k++) {
                    centroid.remove(light.get(k).getKey());
                }
            }
            double squares = 0;
            for (double v : centroid.values()) {
                squares += v * v;
            }
            norm = Math.sqrt(squares);
            recent.addLast(query);
            while (recent.size() > settings.recentQueries()) {
                recent.removeFirst();
            }
        }
    }
}
