package dev.osd.actors;

import dev.osd.distillation.DraftTrainer;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.SpeculationStats;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * Every figure of a serving system, in one Prometheus registry: the speculation counters in vLLM's schema
 * (per draft), draft versions and trainer figures (read from the drafts when scraped), request latencies,
 * traffic per query class, the actors' own figures ({@link ActorMetrics}) and the JVM's. It also keeps each
 * draft's acceptance over its recent requests, for {@code /v1/drafts} and the dashboard.
 */
public final class ServingMetrics {

    /** Recent-request windows the acceptance of a draft is reported over. */
    public static final int[] WINDOWS = {20, 100, 500};

    private static final double[] LATENCY_BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64,
        1.28, 2.56, 5.12, 10.24, 20.48, 60};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter drafts = counter("osd_spec_decode_num_drafts_total",
            "Verification rounds with a proposal (vLLM: num_drafts)", "draft");
    private final Counter draftTokens = counter("osd_spec_decode_num_draft_tokens_total",
            "Draft tokens proposed", "draft");
    private final Counter acceptedTokens = counter("osd_spec_decode_num_accepted_tokens_total",
            "Draft tokens the target accepted", "draft");
    private final Counter acceptedPerPosition = counter("osd_spec_decode_num_accepted_tokens_per_pos_total",
            "Draft tokens accepted at each proposal position (0-based)", "draft", "position");
    private final Counter requests = counter("osd_requests_total",
            "Requests finished, by query class (none: no rule matched), draft (none: target-only) and outcome "
                    + "(stop, length, or the problem that ended it: cancelled, deadline, overloaded, ...)",
            "query_class", "draft", "outcome");
    private final Counter outputTokens = counter("osd_request_output_tokens_total", "Tokens generated", "speculation");
    private final Histogram ttft = histogram("osd_request_ttft_seconds", "Time to first token");
    private final Histogram tpot = histogram("osd_request_tpot_seconds", "Time per output token after the first");
    private final Histogram e2e = histogram("osd_request_e2e_seconds", "Time from submission to the last token");
    private final Map<String, Window> windows = new ConcurrentHashMap<>();
    private final Map<String, KvCachePool> kvPools = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> classTraffic = new ConcurrentHashMap<>();
    private final LongAdder served = new LongAdder();
    private final Map<String, double[]> tpotTotals = new ConcurrentHashMap<>();

    /** Reports a model's key/value memory (target, or a draft by name) as {@code osd_kv_cache_blocks}. */
    public void kvCache(String model, KvCachePool pool) {
        kvPools.put(model, pool);
    }

    /**
     * @param liveDrafts the drafts being served now (read when scraped)
     * @param actors the actor system's own metrics
     */
    ServingMetrics(Supplier<Collection<ServingSystem.Draft>> liveDrafts, ActorMetrics actors) {
        GaugeWithCallback.builder().name("osd_kv_cache_blocks")
                .help("Key/value memory blocks of each model (16 positions each): used and total")
                .labelNames("model", "state").callback(cb -> kvPools.forEach((model, pool) -> {
                    cb.call(pool.usedBlocks(), model, "used");
                    cb.call(pool.totalBlocks(), model, "total");
                })).register(registry);
        GaugeWithCallback.builder().name("osd_draft_version").help("The version each draft serves now")
                .labelNames("draft").callback(cb -> {
                    for (ServingSystem.Draft d : liveDrafts.get()) {
                        cb.call(d.live().versionNumber(), d.name());
                    }
                }).register(registry);
        CounterWithCallback.builder().name("osd_trainer_updates_total").help("Distillation updates of each draft")
                .labelNames("draft").callback(cb -> {
                    for (ServingSystem.Draft d : liveDrafts.get()) {
                        if (d.trainer() != null) {
                            cb.call(d.trainer().stats().updates(), d.name());
                        }
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("osd_trainer_loss").help("Divergence of each draft's last update")
                .labelNames("draft").callback(cb -> {
                    for (ServingSystem.Draft d : liveDrafts.get()) {
                        DraftTrainer t = d.trainer();
                        if (t != null && t.stats().updates() > 0) {
                            cb.call(t.stats().lastLoss(), d.name());
                        }
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("osd_trainer_paused").help("1 while a draft's training is paused")
                .labelNames("draft").callback(cb -> {
                    for (ServingSystem.Draft d : liveDrafts.get()) {
                        if (d.trainer() != null) {
                            cb.call(d.trainer().stats().paused() ? 1 : 0, d.name());
                        }
                    }
                }).register(registry);
        actors.registerWith(registry);
        JvmMetrics.builder().register(registry);
    }

    public PrometheusRegistry registry() {
        return registry;
    }

    /** Records one finished request. */
    void record(RequestActor.Finished f, long submittedNanos, long firstTokenNanos, long finishedNanos) {
        GenerationResult r = f.result();
        String draft = f.draft() == null ? "none" : f.draft();
        String queryClass = f.queryClass() == null ? "none" : f.queryClass();
        // a request that ended early (cancelled, deadline, ...) has no finish reason: its problem's kind says why
        String outcome = f.problem() != null ? f.problem().kind() : r.finishReason() == null ? "length"
                : r.finishReason().name().toLowerCase(Locale.ROOT);
        requests.labelValues(queryClass, draft, outcome).inc();
        served.increment();
        classTraffic.computeIfAbsent(queryClass, c -> new LongAdder()).increment();
        int n = r.tokens().length;
        String speculation = f.draft() == null ? "off" : "on";
        outputTokens.labelValues(speculation).inc(n);
        if (f.draft() != null) {
            SpeculationStats s = r.stats();
            drafts.labelValues(draft).inc(s.steps());
            draftTokens.labelValues(draft).inc(s.draftTokens());
            acceptedTokens.labelValues(draft).inc(s.acceptedTokens());
            long[] perPosition = s.acceptedPerPosition();
            for (int i = 0; i < perPosition.length; i++) {
                acceptedPerPosition.labelValues(draft, Integer.toString(i)).inc(perPosition[i]);
            }
            window(draft).add(s.acceptedTokens(), s.acceptedTokens() + s.rejections());
            window(draft).sawVersion(s.lastDraftVersion());
        }
        if (n > 0) {
            ttft.labelValues(speculation).observe((firstTokenNanos - submittedNanos) / 1e9);
            e2e.labelValues(speculation).observe((finishedNanos - submittedNanos) / 1e9);
            if (n > 1) {
                double seconds = (finishedNanos - firstTokenNanos) / 1e9 / (n - 1);
                tpot.labelValues(speculation).observe(seconds);
                double[] t = tpotTotals.computeIfAbsent(speculation, x -> new double[2]);
                synchronized (t) {
                    t[0] += seconds;
                    t[1]++;
                }
            }
        }
    }

    /** Requests served so far per query class ("none": no rule matched). */
    public Map<String, Long> trafficByClass() {
        Map<String, Long> m = new LinkedHashMap<>();
        classTraffic.forEach((c, n) -> m.put(c, n.sum()));
        return m;
    }

    public long served() {
        return served.sum();
    }

    /** Sum of time per output token (seconds) and number of requests so far, speculation "on" or "off". */
    public double[] tpotTotals(String speculation) {
        double[] t = tpotTotals.computeIfAbsent(speculation, x -> new double[2]);
        synchronized (t) {
            return t.clone();
        }
    }

    /** A draft's recent requests. */
    public Window window(String draft) {
        return windows.computeIfAbsent(draft, d -> new Window(WINDOWS[WINDOWS.length - 1]));
    }

    private Counter counter(String name, String help, String... labels) {
        return Counter.builder().name(name).help(help).labelNames(labels).register(registry);
    }

    private Histogram histogram(String name, String help) {
        return Histogram.builder().name(name).help(help + ", seconds; speculation on or off").labelNames("speculation")
                .classicUpperBounds(LATENCY_BUCKETS).register(registry);
    }

    /** One draft's last requests: token acceptance (accepted ÷ judged) over the newest n of them. */
    public static final class Window {
        private final int capacity;
        private final Deque<long[]> requests = new ArrayDeque<>();
        private long total;
        private long totalAccepted;
        private long totalJudged;

        Window(int capacity) {
            this.capacity = capacity;
        }

        synchronized void add(long accepted, long judged) {
            requests.addFirst(new long[] {accepted, judged});
            if (requests.size() > capacity) {
                requests.removeLast();
            }
            total++;
            totalAccepted += accepted;
            totalJudged += judged;
        }

        /** Accepted and judged positions over every request so far. */
        public synchronized long[] totals() {
            return new long[] {totalAccepted, totalJudged};
        }

        private long lastVersion = -1;

        synchronized void sawVersion(long v) {
            lastVersion = Math.max(lastVersion, v);
        }

        /** The newest version a request of this draft was served by, or -1. */
        public synchronized long lastVersion() {
            return lastVersion;
        }

        /** Requests this draft served in all. */
        public synchronized long total() {
            return total;
        }

        /** Token acceptance over the newest {@code n} requests; NaN before any. */
        public synchronized double acceptance(int n) {
            long accepted = 0;
            long judged = 0;
            int i = 0;
            for (long[] r : requests) {
                if (i++ == n) {
                    break;
                }
                accepted += r[0];
                judged += r[1];
            }
            return judged == 0 ? Double.NaN : (double) accepted / judged;
        }
    }
}
