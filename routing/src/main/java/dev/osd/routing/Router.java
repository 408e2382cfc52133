package dev.osd.routing;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Picks the draft for each request. In order: the draft the request names; the first rule that matches the
 * query (configured keywords and regular expressions); once the learned router has seen enough traffic, its
 * choice among the drafts (so routing follows measured acceptance, not only configuration); else the general
 * draft. With no draft at all the request goes target-only.
 */
public final class Router {

    /** Why a draft was chosen. */
    public enum Reason {
        REQUESTED, RULE, LEARNED, CLUSTER, GENERAL, NONE
    }

    /**
     * The outcome of routing one query.
     *
     * @param draft the chosen draft, or null for target-only decoding
     * @param queryClass the class the rules gave the query, or null when no rule matched
     */
    public record Route(String draft, String queryClass, Reason reason) {
    }

    private final List<RoutingRule> rules;  // copy-on-write: classify reads without the lock
    private final Set<String> drafts = new LinkedHashSet<>();
    private final String general;
    private final LearnedRouter learned;
    private final long learnedAfter;
    private final TrafficClusters clusters;
    private final SpawnPolicy spawning;

    /**
     * @param rules tried in order
     * @param general the draft for queries no rule claims (null: target-only for them)
     * @param learned the learned router, or null for rules only
     * @param learnedAfter observations every candidate draft needs before the learned router decides
     */
    public Router(List<RoutingRule> rules, String general, LearnedRouter learned, long learnedAfter) {
        this(rules, general, learned, learnedAfter, null, null);
    }

    /**
     * @param clusters groups the traffic; a cluster with a draft of its own routes there before the rules
     *     (null: no clustering)
     * @param spawning when a cluster gets a draft of its own (null: never; with clusters only)
     */
    public Router(List<RoutingRule> rules, String general, LearnedRouter learned, long learnedAfter,
            TrafficClusters clusters, SpawnPolicy spawning) {
        this.clusters = clusters;
        this.spawning = clusters == null ? null : spawning;
        this.rules = new CopyOnWriteArrayList<>(rules);
        this.general = general;
        this.learned = learned;
        this.learnedAfter = learnedAfter;
        for (RoutingRule r : rules) {
            drafts.add(r.draft());
        }
        if (general != null) {
            drafts.add(general);
        }
    }

    /** The rules this module's {@code reference.conf} ships: the embedded workload's sql, math, code, finance. */
    public static List<RoutingRule> embeddedRules() {
        return rules(ConfigFactory.defaultReference());
    }

    /** The rules {@code osd.routing.rules} of {@code config} lists, in order. */
    public static List<RoutingRule> rules(Config config) {
        List<RoutingRule> out = new ArrayList<>();
        for (Config r : config.getConfigList("osd.routing.rules")) {
            out.add(RoutingRule.of(r.getString("draft"), r.getStringList("keywords"), r.getStringList("patterns")));
        }
        return List.copyOf(out);
    }

    /** {@code osd.routing.general} of {@code config}: the draft for queries no rule claims, or null for none. */
    public static String general(Config config) {
        String g = config.getString("osd.routing.general");
        return g.isEmpty() ? null : g;
    }

    /** The traffic clusters {@code osd.routing.clusters} of {@code config} sets up. */
    public static TrafficClusters clusters(Config config) {
        Config c = config.getConfig("osd.routing.clusters");
        return new TrafficClusters(new TrafficClusters.Settings(c.getInt("max-clusters"), c.getDouble("similarity"),
                c.getInt("max-features"), c.getInt("recent-queries")));
    }

    /** The spawn policy {@code osd.routing.spawn} of {@code config} sets up. */
    public static SpawnPolicy spawning(Config config) {
        Config c = config.getConfig("osd.routing.spawn");
        return new SpawnPolicy(new SpawnPolicy.Settings(c.getBoolean("enabled"), c.getInt("max-drafts"),
                c.getInt("min-requests"), c.getDouble("margin"), c.getLong("retire-after-idle")));
    }

    public synchronized Set<String> drafts() {
        return Set.copyOf(drafts);
    }

    /** A draft added at run time (for a new class); rules for it may come later. */
    public synchronized void addDraft(String draft) {
        drafts.add(draft);
    }

    /**
     * A draft added at run time with the rule that claims its class; the rule is tried before the others, so a
     * new class can take queries an older, broader rule would have claimed.
     */
    public synchronized void addDraft(String draft, RoutingRule rule) {
        if (rule != null) {
            if (!rule.draft().equals(draft)) {
                throw new IllegalArgumentException("rule for '" + rule.draft() + "' given for draft '" + draft + "'");
            }
            rules.add(0, rule);
        }
        drafts.add(draft);
    }

    /** Stops routing to a draft; its rules go with it. */
    public synchronized void removeDraft(String draft) {
        drafts.remove(draft);
        if (clusters != null) {
            clusters.disown(draft);
        }
        rules.removeIf(r -> r.draft().equals(draft) && !draft.equals(general));
    }

    public synchronized Route route(String query, String requested) {
        if (requested != null) {
            if (!drafts.contains(requested)) {
                throw new IllegalArgumentException("unknown draft '" + requested + "' (known: " + drafts + ")");
            }
            return new Route(requested, classify(query).orElse(null), Reason.REQUESTED);
        }
        Optional<String> byRule = classify(query);
        if (clusters != null) {
            Optional<String> owner = clusters.owner(clusters.assign(query));
            if (owner.isPresent() && drafts.contains(owner.get())) {
                return new Route(owner.get(), byRule.orElse(null), Reason.CLUSTER);
            }
        }
        if (learned != null && drafts.size() > 1) {
            List<String> candidates = new ArrayList<>(drafts);
            boolean experienced = candidates.stream().allMatch(d -> learned.observations(d) >= learnedAfter);
            if (experienced) {
                return new Route(learned.choose(query, candidates), byRule.orElse(null), Reason.LEARNED);
            }
        }
        if (byRule.isPresent() && drafts.contains(byRule.get())) {
            return new Route(byRule.get(), byRule.get(), Reason.RULE);
        }
        if (general != null && drafts.contains(general)) {
            return new Route(general, byRule.orElse(null), Reason.GENERAL);
        }
        return new Route(null, byRule.orElse(null), Reason.NONE);
    }

    /** The class the first matching rule gives a query. */
    public Optional<String> classify(String query) {
        for (RoutingRule r : rules) {
            if (r.matches(query)) {
                return Optional.of(r.draft());
            }
        }
        return Optional.empty();
    }

    /** Feeds the learned router with the acceptance a served query achieved. */
    public void observe(String query, String draft, double acceptance) {
        if (learned != null && draft != null) {
            learned.observe(query, draft, acceptance);
        }
        if (clusters != null && draft != null) {
            clusters.find(query).ifPresent(c -> clusters.observe(c, draft, acceptance));
        }
    }

    /** The traffic clusters, or null when the router does not cluster. */
    public TrafficClusters clusters() {
        return clusters;
    }

    /**
     * What the spawn policy decides now (empty without one). A cluster that is to get a draft is marked as its
     * owner at once, so it is decided once; its requests route there as soon as the draft is added.
     */
    public synchronized List<SpawnPolicy.Decision> spawnDecisions() {
        if (spawning == null) {
            return List.of();
        }
        List<SpawnPolicy.Decision> decisions = spawning.decide(clusters, drafts, general);
        for (SpawnPolicy.Decision d : decisions) {
            if (d instanceof SpawnPolicy.Spawn s) {
                clusters.own(s.cluster(), s.draft());
            }
        }
        return decisions;
    }
}
