package dev.osd.routing;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * When to give a traffic cluster a draft of its own, and when to take it back. A cluster earns a draft when no
 * specialised draft serves it (the general draft serves most of its requests), it has had enough traffic, and
 * the acceptance the general draft earns there is clearly below what the specialised drafts earn in their own
 * clusters — the evidence that a draft trained on this cluster alone would do better. A spawned draft whose
 * cluster has gone quiet for long enough is retired, and its memory freed.
 */
public final class SpawnPolicy {

    /**
     * @param enabled whether drafts spawn at all
     * @param maxDrafts most drafts served at once, spawned ones included
     * @param minRequests requests the general draft must have served in a cluster before it is judged
     * @param margin how far below the specialised drafts' acceptance the cluster's must lie
     * @param retireAfterIdle requests the system serves elsewhere, after a spawned draft's cluster last saw
     *     one, before that draft is retired
     */
    public record Settings(boolean enabled, int maxDrafts, int minRequests, double margin, long retireAfterIdle) {
        public Settings {
            if (maxDrafts < 1 || minRequests < 1 || retireAfterIdle < 1) {
                throw new IllegalArgumentException("spawn bounds must be positive: max drafts " + maxDrafts
                        + ", min requests " + minRequests + ", retire after " + retireAfterIdle);
            }
            if (!(margin >= 0 && margin < 1)) {
                throw new IllegalArgumentException("spawn margin must lie in [0, 1), was " + margin);
            }
        }

        public static Settings defaults() {
            return new Settings(true, 8, 30, 0.15, 2000);
        }
    }

    /** What the policy decided, with the figures it decided on (for the log, the dashboard and the API). */
    public sealed interface Decision {
        String cluster();

        String draft();

        String reason();
    }

    /**
     * @param servedBy the draft that earns the cluster the most acceptance so far (a candidate to start from)
     * @param clusterAcceptance the general draft's mean token acceptance α in the cluster
     * @param specialisedAcceptance the specialised drafts' mean α in their own clusters
     */
    public record Spawn(String cluster, String draft, String servedBy, double clusterAcceptance,
            double specialisedAcceptance, long requests, String reason) implements Decision {
    }

    public record Retire(String cluster, String draft, long idle, String reason) implements Decision {
    }

    /** Prefix of a spawned draft's name; the rest is its cluster's id. */
    public static final String SPAWNED_PREFIX = "auto-";

    private final Settings settings;

    public SpawnPolicy(Settings settings) {
        this.settings = settings;
    }

    public Settings settings() {
        return settings;
    }

    /**
     * What to do now: at most one spawn (the busiest cluster that qualifies) and every retirement due.
     *
     * @param drafts the drafts served now
     * @param general the general draft (the one that serves what no specialised draft claims)
     */
    public List<Decision> decide(TrafficClusters clusters, Set<String> drafts, String general) {
        List<Decision> out = new ArrayList<>();
        if (!settings.enabled() || general == null) {
            return out;
        }
        List<TrafficClusters.Stats> all = clusters.stats();
        for (TrafficClusters.Stats c : all) {
            if (c.owner() != null && c.idle() >= settings.retireAfterIdle() && drafts.contains(c.owner())) {
                out.add(new Retire(c.id(), c.owner(), c.idle(), String.format(Locale.ROOT,
                        "cluster %s saw no request in the last %d", c.id(), c.idle())));
            }
        }
        double reference = specialisedAcceptance(all, general);
        if (Double.isNaN(reference) || drafts.size() >= settings.maxDrafts()) {
            return out;
        }
        all.stream()
                .filter(c -> c.owner() == null && general.equals(c.mostlyServedBy()))
                .filter(c -> c.observed().getOrDefault(general, 0L) >= settings.minRequests())
                .filter(c -> c.acceptance().get(general) <= reference - settings.margin())
                .max(Comparator.comparingLong(TrafficClusters.Stats::requests))
                .ifPresent(c -> {
                    double alpha = c.acceptance().get(general);
                    String best = c.acceptance().entrySet().stream().filter(e -> drafts.contains(e.getKey()))
                            .max(Map.Entry.comparingByValue()).map(Map.Entry::getKey)
                            .orElse(general);
                    out.add(new Spawn(c.id(), SPAWNED_PREFIX + c.id(), best, alpha, reference, c.requests(),
                            String.format(Locale.ROOT, "cluster %s: %d requests, the general draft's token "
                                    + "acceptance %.2f is %.2f below the specialised drafts' %.2f", c.id(),
                                    c.requests(), alpha, reference - alpha, reference)));
                });
        return out;
    }

    /**
     * The mean acceptance specialised drafts earn in the clusters they mostly serve (each cluster with enough
     * requests counts once), NaN when there are none yet.
     */
    private double specialisedAcceptance(List<TrafficClusters.Stats> all, String general) {
        double sum = 0;
        int n = 0;
        for (TrafficClusters.Stats c : all) {
            String d = c.mostlyServedBy();
            if (d != null && !d.equals(general) && c.observed().get(d) >= settings.minRequests()) {
                sum += c.acceptance().get(d);
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }
}
