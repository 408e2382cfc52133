package dev.osd.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.osd.actors.ActorMetrics;
import dev.osd.actors.ServingMetrics;
import dev.osd.actors.ServingSystem;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * What the dashboard draws: once per interval, a sample of acceptance per draft (over the interval), requests
 * per query class, time per output token with and without speculation, draft versions and queue depths per
 * actor kind; the last {@code capacity} samples are kept.
 */
final class DashboardHistory {

    static final String[] KINDS = {"target", "draft", "request", "trainer", "router"};

    /** One sample; null where nothing happened in the interval. */
    private record Sample(long at, Map<String, Double> acceptance, Map<String, Double> traffic,
            Map<String, Double> tpotMs, Map<String, Double> versions, Map<String, Double> queues) {
    }

    private final ServingSystem system;
    private final int capacity;
    private final Deque<Sample> samples = new ArrayDeque<>();
    private Map<String, long[]> lastAcceptance = new HashMap<>();
    private Map<String, Long> lastTraffic = new HashMap<>();
    private final Map<String, double[]> lastTpot = new HashMap<>();
    private long lastAt = System.currentTimeMillis();

    DashboardHistory(ServingSystem system, int capacity) {
        this.system = system;
        this.capacity = capacity;
    }

    /** Takes a sample now. */
    synchronized void sample() {
        long now = System.currentTimeMillis();
        double seconds = Math.max(1e-3, (now - lastAt) / 1000.0);
        lastAt = now;
        ServingMetrics m = system.metrics();
        Map<String, Double> acceptance = new LinkedHashMap<>();
        Map<String, Double> versions = new LinkedHashMap<>();
        Map<String, long[]> acceptanceNow = new HashMap<>();
        Map<String, ServingSystem.Draft> local = system.drafts();
        for (String name : system.draftNames()) {
            ServingMetrics.Window w = m.window(name);
            long[] t = w.totals();
            long[] before = lastAcceptance.getOrDefault(name, new long[2]);
            long judged = t[1] - before[1];
            acceptance.put(name, judged == 0 ? null : (double) (t[0] - before[0]) / judged);
            acceptanceNow.put(name, t);
            // a replica here knows its version; a gateway without one, the newest its requests were served by
            long version = local.containsKey(name) ? local.get(name).live().version() : w.lastVersion();
            versions.put(name, version < 0 ? null : (double) version);
        }
        lastAcceptance = acceptanceNow;
        Map<String, Double> traffic = new LinkedHashMap<>();
        Map<String, Long> trafficNow = m.trafficByClass();
        for (Map.Entry<String, Long> e : trafficNow.entrySet()) {
            traffic.put(e.getKey(), (e.getValue() - lastTraffic.getOrDefault(e.getKey(), 0L)) / seconds);
        }
        lastTraffic = trafficNow;
        Map<String, Double> tpot = new LinkedHashMap<>();
        for (String mode : new String[] {"on", "off"}) {
            double[] t = m.tpotTotals(mode);
            double[] before = lastTpot.getOrDefault(mode, new double[2]);
            double n = t[1] - before[1];
            tpot.put(mode, n == 0 ? null : (t[0] - before[0]) / n * 1e3);
            lastTpot.put(mode, t);
        }
        Map<String, Double> queues = new LinkedHashMap<>();
        ActorMetrics actors = ActorMetrics.of(system.actorSystem());
        for (String kind : KINDS) {
            queues.put(kind, (double) actors.queueDepth(kind));
        }
        samples.addLast(new Sample(now, acceptance, traffic, tpot, versions, queues));
        while (samples.size() > capacity) {
            samples.removeFirst();
        }
    }

    /** The samples as aligned series: {"t": [...], "acceptance": {draft: [...]}, ...}. */
    synchronized JsonObject toJson() {
        JsonObject o = new JsonObject();
        JsonArray t = new JsonArray();
        for (Sample s : samples) {
            t.add(s.at());
        }
        o.add("t", t);
        o.add("acceptance", series(s -> s.acceptance()));
        o.add("traffic", series(s -> s.traffic()));
        o.add("tpot_ms", series(s -> s.tpotMs()));
        o.add("versions", series(s -> s.versions()));
        o.add("queues", series(s -> s.queues()));
        return o;
    }

    private JsonObject series(Function<Sample, Map<String, Double>> field) {
        TreeSet<String> names = new TreeSet<>();
        for (Sample s : samples) {
            names.addAll(field.apply(s).keySet());
        }
        JsonObject o = new JsonObject();
        for (String name : names) {
            JsonArray a = new JsonArray();
            for (Sample s : samples) {
                Double v = field.apply(s).get(name);
                if (v == null || v.isNaN()) {
                    a.add(JsonNull.INSTANCE);
                } else {
                    a.add(v);
                }
            }
            o.add(name, a);
        }
        return o;
    }
}
