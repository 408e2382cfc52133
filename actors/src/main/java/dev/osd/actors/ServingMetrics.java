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
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricMetadata;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
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

    private static final double[] TOKEN_BUCKETS = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
        20000, 50000, 100000, 200000};

    /**
     * The families that also go out under vLLM's exact names when {@code osd.metrics.vllm-names} is on: ours
     * (without a counter's {@code _total}, as the client names families) → vLLM's. The KV usage goes out under
     * both of vLLM's names (v1's and v0's).
     */
    public static final Map<String, List<String>> VLLM_NAMES = vllmNames();

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private volatile String modelName = "osd-embedded";
    private final Counter drafts = counter("osd_spec_decode_num_drafts_total",
            "Verification rounds with a proposal (vLLM: num_drafts)", "model_name", "draft");
    private final Counter draftTokens = counter("osd_spec_decode_num_draft_tokens_total",
            "Draft tokens proposed", "model_name", "draft");
    private final Counter acceptedTokens = counter("osd_spec_decode_num_accepted_tokens_total",
            "Draft tokens the target accepted", "model_name", "draft");
    private final Counter acceptedPerPosition = counter("osd_spec_decode_num_accepted_tokens_per_pos_total",
            "Draft tokens accepted at each proposal position (0-based)", "model_name", "draft", "position");
    private final Counter proposerRounds = counter("osd_spec_decode_proposer_rounds_total",
            "Verification rounds by who proposed them (draft: the model; suffix: a match in served text; "
                    + "suffix+draft: a match the model extended)", "model_name", "draft", "proposer");
    private final Counter proposerDraftTokens = counter("osd_spec_decode_proposer_draft_tokens_total",
            "Tokens proposed, by proposer", "model_name", "draft", "proposer");
    private final Counter proposerAccepted = counter("osd_spec_decode_proposer_accepted_tokens_total",
            "Proposed tokens the target accepted, by proposer", "model_name", "draft", "proposer");
    private final Counter requests = counter("osd_requests_total",
            "Requests finished, by query class (none: no rule matched), draft (none: target-only) and outcome "
                    + "(stop, length, or the problem that ended it: cancelled, deadline, overloaded, ...)",
            "query_class", "draft", "outcome");
    private final Counter outputTokens = counter("osd_request_output_tokens_total", "Tokens generated", "speculation");
    private final Counter promptTokens = counter("osd_prompt_tokens_total",
            "Prompt tokens of the generations that finished (each of n choices counts its prompt)", "model_name");
    private final Counter generationTokens = counter("osd_generation_tokens_total", "Tokens generated",
            "model_name");
    private final Counter success = counter("osd_request_success_total",
            "Generations finished, by finish reason (stop, length; abort: cancelled, past its deadline or failed)",
            "model_name", "finished_reason");
    private final Histogram ttft = histogram("osd_time_to_first_token_seconds",
            "Time from submission to the first token");
    private final Histogram itl = histogram("osd_inter_token_latency_seconds",
            "Time between two deliveries of tokens to a request (a speculative round delivers several)");
    private final Histogram tpot = histogram("osd_time_per_output_token_seconds",
            "Time per output token after the first");
    private final Histogram e2e = histogram("osd_e2e_request_latency_seconds",
            "Time from submission to the last token");
    private final Histogram queueTime = Histogram.builder().name("osd_request_queue_time_seconds")
            .help("Time from admission until the request started at a target (its router answered), seconds")
            .labelNames("model_name").classicUpperBounds(LATENCY_BUCKETS).register(registry);
    private final Histogram promptLength = Histogram.builder().name("osd_request_prompt_tokens")
            .help("Prompt tokens per generation").labelNames("model_name").classicUpperBounds(TOKEN_BUCKETS)
            .register(registry);
    private final Histogram generationLength = Histogram.builder().name("osd_request_generation_tokens")
            .help("Generated tokens per generation").labelNames("model_name").classicUpperBounds(TOKEN_BUCKETS)
            .register(registry);
    // admitted generations not yet started (id → admission time), and those started
    private final Map<String, Long> waiting = new ConcurrentHashMap<>();
    private final Set<String> running = ConcurrentHashMap.newKeySet();
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
        GaugeWithCallback.builder().name("osd_num_requests_running")
                .help("Generations under way at a target (vLLM: requests running)").labelNames("model_name")
                .callback(cb -> cb.call(running.size(), modelName)).register(registry);
        GaugeWithCallback.builder().name("osd_num_requests_waiting")
                .help("Generations admitted and not yet started (admission refuses with 429 rather than queue)")
                .labelNames("model_name").callback(cb -> cb.call(waiting.size(), modelName)).register(registry);
        GaugeWithCallback.builder().name("osd_kv_cache_usage_perc")
                .help("Share of the target's key/value blocks in use on this node, 0 to 1 (vLLM: KV-cache usage)")
                .labelNames("model_name").callback(cb -> {
                    KvCachePool pool = kvPools.get("target");
                    if (pool != null && pool.totalBlocks() > 0) {
                        cb.call((double) pool.usedBlocks() / pool.totalBlocks(), modelName);
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("osd_draft_version").help("The version each draft serves now")
                .labelNames("draft").callback(cb -> {
                    for (ServingSystem.Draft d : liveDrafts.get()) {
                        cb.call(d.live().version(), d.name());
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

    /**
     * The model id the API serves, the {@code model_name} label of vLLM's metrics (set by the HTTP server at start,
     * before it takes requests).
     */
    public void serveAs(String model) {
        this.modelName = model;
    }

    public String modelName() {
        return modelName;
    }

    /** What /metrics shows: every family, and with {@code vllmNames} vLLM's families again under vLLM's names. */
    public MetricSnapshots scrape(boolean vllmNames) {
        MetricSnapshots ours = registry.scrape();
        if (!vllmNames) {
            return ours;
        }
        MetricSnapshots.Builder all = MetricSnapshots.builder();
        for (MetricSnapshot m : ours) {
            all.metricSnapshot(m);
        }
        for (MetricSnapshot m : ours) {
            for (String name : VLLM_NAMES.getOrDefault(m.getMetadata().getName(), List.of())) {
                all.metricSnapshot(renamed(m, name));
            }
        }
        return all.build();
    }

    private static MetricSnapshot renamed(MetricSnapshot m, String name) {
        MetricMetadata meta = new MetricMetadata(name, m.getMetadata().getHelp());
        if (m instanceof CounterSnapshot c) {
            return new CounterSnapshot(meta, c.getDataPoints());
        }
        if (m instanceof GaugeSnapshot g) {
            return new GaugeSnapshot(meta, g.getDataPoints());
        }
        if (m instanceof HistogramSnapshot h) {
            return new HistogramSnapshot(meta, h.getDataPoints());
        }
        throw new IllegalStateException("no vLLM copy for a " + m.getClass().getSimpleName());
    }

    private static Map<String, List<String>> vllmNames() {
        Map<String, List<String>> m = new LinkedHashMap<>();
        for (String family : new String[] {"num_requests_running", "num_requests_waiting", "prompt_tokens",
            "generation_tokens", "request_success", "time_to_first_token_seconds", "inter_token_latency_seconds",
            "time_per_output_token_seconds", "e2e_request_latency_seconds", "request_queue_time_seconds",
            "request_prompt_tokens", "request_generation_tokens", "spec_decode_num_drafts",
            "spec_decode_num_draft_tokens", "spec_decode_num_accepted_tokens",
            "spec_decode_num_accepted_tokens_per_pos"}) {
            m.put("osd_" + family, List.of("vllm:" + family));
        }
        m.put("osd_kv_cache_usage_perc", List.of("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"));
        return Collections.unmodifiableMap(m);
    }

    /** Generations admitted at the gateway (their requests wait until they start at a target). */
    void admitted(String id, long nanos) {
        waiting.put(id, nanos);
    }

    /** A generation started at a target (its request actor holds its target and draft). */
    void started(String id, long nanos) {
        Long since = waiting.remove(id);
        if (since != null) {
            running.add(id);
            queueTime.labelValues(modelName).observe((nanos - since) / 1e9);
        }
    }

    /** A generation's slot is free again, however it ended. */
    void released(String id) {
        waiting.remove(id);
        running.remove(id);
    }

    /** Tokens delivered to a request {@code seconds} after its previous delivery. */
    void interToken(boolean speculation, double seconds) {
        itl.labelValues(modelName, speculation ? "on" : "off").observe(seconds);
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
        String model = modelName;
        success.labelValues(model, f.problem() != null ? "abort" : outcome).inc();
        promptTokens.labelValues(model).inc(r.promptTokens());
        generationTokens.labelValues(model).inc(r.tokens().length);
        promptLength.labelValues(model).observe(r.promptTokens());
        generationLength.labelValues(model).observe(r.tokens().length);
        served.increment();
        classTraffic.computeIfAbsent(queryClass, c -> new LongAdder()).increment();
        int n = r.tokens().length;
        String speculation = f.draft() == null ? "off" : "on";
        outputTokens.labelValues(speculation).inc(n);
        if (f.draft() != null) {
            SpeculationStats s = r.stats();
            drafts.labelValues(model, draft).inc(s.rounds());
            draftTokens.labelValues(model, draft).inc(s.draftTokens());
            acceptedTokens.labelValues(model, draft).inc(s.acceptedTokens());
            long[] perPosition = s.acceptedPerPosition();
            for (int i = 0; i < perPosition.length; i++) {
                acceptedPerPosition.labelValues(model, draft, Integer.toString(i)).inc(perPosition[i]);
            }
            s.byProposer().forEach((proposer, figures) -> {
                proposerRounds.labelValues(model, draft, proposer).inc(figures.rounds());
                proposerDraftTokens.labelValues(model, draft, proposer).inc(figures.proposed());
                proposerAccepted.labelValues(model, draft, proposer).inc(figures.accepted());
            });
            window(draft).add(s.acceptedTokens(), s.acceptedTokens() + s.rejections());
            window(draft).sawVersion(s.lastDraftVersion());
        }
        if (n > 0) {
            ttft.labelValues(model, speculation).observe((firstTokenNanos - submittedNanos) / 1e9);
            e2e.labelValues(model, speculation).observe((finishedNanos - submittedNanos) / 1e9);
            if (n > 1) {
                double seconds = (finishedNanos - firstTokenNanos) / 1e9 / (n - 1);
                tpot.labelValues(model, speculation).observe(seconds);
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
        return Histogram.builder().name(name).help(help + ", seconds; speculation on or off")
                .labelNames("model_name", "speculation")
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
