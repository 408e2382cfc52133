package dev.osd.app;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.ServingSystem;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SuffixProposer;
import dev.osd.http.HttpServer;
import dev.osd.workload.Example;
import dev.osd.workload.Workload;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import me.tongfei.progressbar.ProgressBar;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/**
 * {@code ./osd bench serve}: starts the server for each mode in turn (target-only, the static base draft,
 * online drafts warmed up on traffic first), replays held-out workload prompts over HTTP as streamed
 * completions at each concurrency, and measures what a client sees: time to first token, time per output
 * token, end-to-end latency, output tokens per second, acceptance. With a traffic file, its requests instead, in
 * order: the warm-up serves its first lines and every mode measures the same lines after them.
 */
final class ServeBenchmark {

    static final List<String> MODES = List.of("target_only", "static", "online");
    static final List<String> CLASSES = List.of("sql", "math", "code", "finance");

    /** What a client saw of one streamed request. */
    record Outcome(double ttftMs, double tpotMs, double e2eMs, int tokens, long rounds, long draftTokens,
            long accepted) {
    }

    /** A phase's outcomes and its wall time (for throughput). */
    record Phase(List<Outcome> outcomes, double seconds) {
    }

    private final ModelPair models;
    private final List<Integer> concurrency;
    private final int requests;
    private final int warmup;
    private final int maxTokens;
    private final ServingSystem.Settings settings;
    private final List<String> modes;
    // null: the held-out workload prompts
    private final List<Example> traffic;
    // null: as configured
    private final SuffixProposer.Mode proposer;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    ServeBenchmark(ModelPair models, List<Integer> concurrency, int requests, int warmup, int maxTokens,
            ServingSystem.Settings settings) {
        this(models, concurrency, requests, warmup, maxTokens, settings, MODES);
    }

    /** @param modes some of {@link #MODES}, target_only among them (the speedups are against it) */
    ServeBenchmark(ModelPair models, List<Integer> concurrency, int requests, int warmup, int maxTokens,
            ServingSystem.Settings settings, List<String> modes) {
        this(models, concurrency, requests, warmup, maxTokens, settings, modes, null, null);
    }

    /**
     * @param traffic requests to serve in order (null: the held-out workload prompts)
     * @param proposer the servers' {@code osd.draft.suffix.proposer} (null: as configured)
     */
    ServeBenchmark(ModelPair models, List<Integer> concurrency, int requests, int warmup, int maxTokens,
            ServingSystem.Settings settings, List<String> modes, List<Example> traffic, SuffixProposer.Mode proposer) {
        if (traffic != null && traffic.isEmpty()) {
            throw new IllegalArgumentException("--traffic has no requests");
        }
        this.traffic = traffic;
        this.proposer = proposer;
        if (!modes.contains("target_only") || !MODES.containsAll(modes)) {
            throw new IllegalArgumentException("--modes " + String.join(",", modes) + ": some of "
                    + String.join(",", MODES) + ", target_only among them");
        }
        this.modes = MODES.stream().filter(modes::contains).toList();
        this.models = models;
        this.concurrency = concurrency;
        this.requests = requests;
        this.warmup = warmup;
        this.maxTokens = maxTokens;
        this.settings = settings;
    }

    /**
     * Forward costs measured before serving, in ms: one target row (decode), r target rows for r = 1..maxK+1
     * (verification), one draft row. They give the forward-cost ceiling of a speculative mode: its mean
     * acceptance length times V(1), over what its average round costs (k draft rows + V(k + 1)).
     */
    record ForwardCosts(double[] verify, double draft) {
        double ceiling(double acceptanceRate, double meanAcceptanceLength) {
            if (acceptanceRate <= 0 || meanAcceptanceLength <= 1) {
                return 1.0;
            }
            double k = Math.min(verify.length - 2, (meanAcceptanceLength - 1) / acceptanceRate);
            int lo = (int) Math.floor(k);
            double v = verify[lo + 1] + (k - lo) * (verify[Math.min(lo + 2, verify.length - 1)] - verify[lo + 1]);
            return meanAcceptanceLength * verify[1] / (k * draft + v);
        }
    }

    static ForwardCosts measureForwardCosts(LlamaModel target, LlamaModel draft, int maxK) {
        double[] verify = new double[maxK + 2];
        try (KvCachePool pool = target.newCachePool(1, Math.min(256, target.config().maxPositionEmbeddings()));
                KvCachePool draftPool = draft.newCachePool(1, Math.min(256, draft.config().maxPositionEmbeddings()))) {
            KvCache cache = pool.acquire();
            KvCache draftCache = draftPool.acquire();
            target.forward(cache, new int[64], 1);
            draft.forward(draftCache, new int[64], 1);
            for (int round = 0; round < 3; round++) { // the last round is kept: the first ones warm up
                for (int r = 1; r <= maxK + 1; r++) {
                    verify[r] = millisPer(target, cache, r);
                }
            }
            double d = millisPer(draft, draftCache, 1);
            cache.close();
            draftCache.close();
            return new ForwardCosts(verify, d);
        }
    }

    private static double millisPer(LlamaModel model, KvCache cache, int rows) {
        int before = cache.length();
        int calls = 0;
        long start = System.nanoTime();
        while (System.nanoTime() - start < 150_000_000L || calls < 5) {
            model.forward(cache, new int[rows], rows);
            cache.truncate(before);
            calls++;
        }
        return (System.nanoTime() - start) / 1e6 / calls;
    }

    /** Runs every mode and writes DIR/summary.json, DIR/serve.csv and the plots. */
    Map<String, Object> run(Path out) throws Exception {
        Files.createDirectories(out);
        ForwardCosts costs = measureForwardCosts(models.target(), models.draft(), settings.maxK());
        Map<String, Map<String, Object>> byConcurrency = new LinkedHashMap<>();
        Map<String, Object> training = new LinkedHashMap<>();
        boolean online = modes.contains("online");
        int total = modes.size() * concurrency.size() * requests + (online ? warmup + 2 * requests : 0);
        Config config = proposer == null ? ConfigFactory.load() : ConfigFactory.parseString(
                "osd.draft.suffix.proposer = " + proposer.name().toLowerCase(Locale.ROOT))
                .withFallback(ConfigFactory.load());
        try (ProgressBar bar = Progress.bar("bench serve", total, System.err).continuousUpdate()
                .build()) {
            for (String mode : modes) {
                ServingStack.Options options = new ServingStack.Options(mode.equals("online"),
                        !mode.equals("target_only"), null, settings, config);
                try (ServingStack stack = new ServingStack("bench-" + mode, models, options);
                        HttpServer server = HttpServer.start(stack.system(), models.tokenizer(),
                                HttpServer.Settings.builder().optPort(0).build())) {
                    // nothing is timed before the model actors have warmed up
                    stack.awaitReady(Duration.ofMinutes(2));
                    String url = server.url();
                    if (mode.equals("online")) {
                        bar.setExtraMessage(" warming up the online drafts");
                        phase(url, 4, warmup, traffic != null ? -warmup : 100_000, bar);
                    }
                    int offset = 0;
                    for (int c : concurrency) {
                        bar.setExtraMessage(" " + mode + " c=" + c);
                        Map<String, Object> figures = summarize(phase(url, c, requests, offset, bar));
                        byConcurrency.computeIfAbsent(Integer.toString(c), k -> new LinkedHashMap<>()).put(mode, figures);
                        offset += requests;
                    }
                    if (mode.equals("online")) {
                        bar.setExtraMessage(" online, trainers active vs paused");
                        training.put("active", summarize(phase(url, 1, requests, offset, bar)));
                        post(url + "/v1/training/pause", "");
                        training.put("paused", summarize(phase(url, 1, requests, offset + requests, bar)));
                    }
                }
            }
        }
        for (Map<String, Object> modes : byConcurrency.values()) {
            @SuppressWarnings("unchecked")
            double base = (double) ((Map<String, Object>) modes.get("target_only")).get("tpot_ms_p50");
            for (Object figures : modes.values()) {
                @SuppressWarnings("unchecked")
                Map<String, Object> f = (Map<String, Object>) figures;
                f.put("speedup_tpot_p50", base / (double) f.get("tpot_ms_p50"));
                f.put("ceiling", costs.ceiling((double) f.get("acceptance_rate"),
                        (double) f.get("mean_acceptance_length")));
            }
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("concurrency", byConcurrency);
        summary.put("online_training_c1", training);
        Map<String, Object> setup = new LinkedHashMap<>();
        setup.put("requests_per_figure", requests);
        setup.put("warmup_requests", warmup);
        setup.put("max_tokens", maxTokens);
        setup.put("modes", modes);
        setup.put("proposer", config.getString("osd.draft.suffix.proposer"));
        if (traffic != null) {
            setup.put("traffic_requests", traffic.size());
            setup.put("measured_lines_from", warmup % traffic.size());
        }
        setup.put("target", models.targetConfig().parameterCount());
        setup.put("temperature", 0);
        if (traffic == null) {
            setup.put("classes", CLASSES);
        }
        setup.put("max_draft_tokens", settings.maxK());
        setup.put("cost_ratio_start", settings.costRatio());
        setup.put("verify_ms_by_rows", costs.verify());
        setup.put("draft_ms_per_token", costs.draft());
        setup.put("cpus", Runtime.getRuntime().availableProcessors());
        summary.put("setup", setup);
        Files.writeString(out.resolve("summary.json"), new GsonBuilder().setPrettyPrinting()
                .serializeSpecialFloatingPointValues().create().toJson(summary));
        writeCsv(out.resolve("serve.csv"), byConcurrency);
        plot(out, byConcurrency, modes);
        print(byConcurrency, training);
        return summary;
    }

    /**
     * Sends {@code n} requests, {@code c} at a time, prompts from {@code offset} on; their outcomes in order. With
     * a traffic file, request i is its line warmup + offset + i (wrapping): the warm-up passes -warmup.
     */
    Phase phase(String url, int c, int n, int offset, ProgressBar bar) throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(c);
        AtomicInteger next = new AtomicInteger();
        List<Future<List<Outcome>>> workers = new ArrayList<>();
        long start = System.nanoTime();
        for (int w = 0; w < c; w++) {
            workers.add(clients.submit(() -> {
                List<Outcome> mine = new ArrayList<>();
                for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) {
                    String prompt = prompt(offset, i);
                    mine.add(stream(url, prompt));
                    bar.step();
                }
                return mine;
            }));
        }
        List<Outcome> all = new ArrayList<>();
        for (Future<List<Outcome>> f : workers) {
            all.addAll(f.get());
        }
        clients.shutdown();
        return new Phase(all, (System.nanoTime() - start) / 1e9);
    }

    private String prompt(int offset, int i) {
        if (traffic != null) {
            return traffic.get(Math.floorMod(warmup + offset + i, traffic.size())).prompt();
        }
        String queryClass = CLASSES.get(i % CLASSES.size());
        return Workload.example(Workload.get(queryClass), Workload.Split.HELD_OUT,
                offset / CLASSES.size() + i / CLASSES.size(), 23).prompt();
    }

    /** One streamed completion, timed as the client sees it. */
    private Outcome stream(String url, String prompt) throws IOException, InterruptedException {
        JsonObject body = new JsonObject();
        body.addProperty("prompt", prompt);
        body.addProperty("max_tokens", maxTokens);
        body.addProperty("temperature", 0);
        body.addProperty("stream", true);
        JsonObject options = new JsonObject();
        options.addProperty("include_usage", true);
        body.add("stream_options", options);
        HttpRequest r = HttpRequest.newBuilder(URI.create(url + "/v1/completions")).timeout(Duration.ofMinutes(5))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build();
        long sent = System.nanoTime();
        HttpResponse<InputStream> response = client.send(r, HttpResponse.BodyHandlers.ofInputStream());
        for (int retry = 0; response.statusCode() == 429 && retry < 20; retry++) {
            // a full server says when to come back; the request's clock keeps running, as a client's would
            response.body().close();
            Thread.sleep(1000L * Long.parseLong(response.headers().firstValue("Retry-After").orElse("1")));
            response = client.send(r, HttpResponse.BodyHandlers.ofInputStream());
        }
        if (response.statusCode() != 200) {
            throw new IllegalStateException("HTTP " + response.statusCode() + ": "
                    + new String(response.body().readAllBytes(), StandardCharsets.UTF_8));
        }
        long first = -1;
        long last = -1;
        JsonObject finalChunk = null;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                    continue;
                }
                JsonObject chunk = JsonParser.parseString(line.substring(6)).getAsJsonObject();
                if (chunk.has("usage")) {
                    finalChunk = chunk;
                } else if (!chunk.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString()
                        .isEmpty()) {
                    long now = System.nanoTime();
                    if (first < 0) {
                        first = now;
                    }
                    last = now;
                }
            }
        }
        long end = System.nanoTime();
        if (finalChunk == null) {
            throw new IllegalStateException("the stream ended without its usage chunk");
        }
        int tokens = finalChunk.getAsJsonObject("usage").get("completion_tokens").getAsInt();
        JsonObject sd = finalChunk.getAsJsonObject("metrics").getAsJsonObject("speculative_decoding");
        if (first < 0) {
            first = end;
            last = end;
        }
        return new Outcome((first - sent) / 1e6, tokens > 1 ? (last - first) / 1e6 / (tokens - 1) : Double.NaN,
                (end - sent) / 1e6, tokens, sd.get("num_spec_steps").getAsLong(), sd.get("num_draft_tokens").getAsLong(),
                sd.get("num_accepted_draft_tokens").getAsLong());
    }

    private void post(String url, String body) throws IOException, InterruptedException {
        client.send(HttpRequest.newBuilder(URI.create(url)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.discarding());
    }

    static Map<String, Object> summarize(Phase phase) {
        List<Outcome> outcomes = phase.outcomes();
        double seconds = phase.seconds();
        double[] ttft = outcomes.stream().mapToDouble(Outcome::ttftMs).sorted().toArray();
        double[] tpot = outcomes.stream().mapToDouble(Outcome::tpotMs).filter(d -> !Double.isNaN(d)).sorted().toArray();
        double[] e2e = outcomes.stream().mapToDouble(Outcome::e2eMs).sorted().toArray();
        long tokens = outcomes.stream().mapToLong(Outcome::tokens).sum();
        long rounds = outcomes.stream().mapToLong(Outcome::rounds).sum();
        long drafted = outcomes.stream().mapToLong(Outcome::draftTokens).sum();
        long accepted = outcomes.stream().mapToLong(Outcome::accepted).sum();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ttft_ms_p50", percentile(ttft, 0.5));
        m.put("tpot_ms_p50", percentile(tpot, 0.5));
        m.put("tpot_ms_p99", percentile(tpot, 0.99));
        m.put("e2e_ms_p50", percentile(e2e, 0.5));
        m.put("output_tokens_per_s", tokens / seconds);
        m.put("acceptance_rate", drafted == 0 ? 0.0 : (double) accepted / drafted);
        m.put("mean_acceptance_length", rounds == 0 ? 1.0 : 1.0 + (double) accepted / rounds);
        m.put("requests", outcomes.size());
        m.put("requests_per_s", outcomes.size() / seconds);
        m.put("output_tokens", tokens);
        m.put("tpot_ms_mean", Arrays.stream(tpot).average().orElse(Double.NaN));
        return m;
    }

    static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, Math.max(0, (int) Math.ceil(q * sorted.length) - 1))];
    }

    private static void writeCsv(Path file, Map<String, Map<String, Object>> byConcurrency) throws IOException {
        List<String> keys = List.of("ttft_ms_p50", "tpot_ms_p50", "tpot_ms_p99", "e2e_ms_p50", "output_tokens_per_s",
                "acceptance_rate", "mean_acceptance_length", "speedup_tpot_p50", "ceiling", "requests");
        StringBuilder b = new StringBuilder("concurrency,mode," + String.join(",", keys) + "\n");
        byConcurrency.forEach((c, modes) -> modes.forEach((mode, figures) -> {
            @SuppressWarnings("unchecked")
            Map<String, Object> f = (Map<String, Object>) figures;
            b.append(c).append(',').append(mode);
            for (String k : keys) {
                b.append(',').append(f.get(k));
            }
            b.append('\n');
        }));
        Files.writeString(file, b.toString());
    }

    private static void plot(Path out, Map<String, Map<String, Object>> byConcurrency, List<String> modes)
            throws IOException {
        for (String[] figure : new String[][] {{"tpot_ms_p50", "time per output token, p50 (ms)", "tpot.png"},
            {"output_tokens_per_s", "output tokens per second", "throughput.png"},
            {"ttft_ms_p50", "time to first token, p50 (ms)", "ttft.png"}}) {
            CategoryChart chart = new CategoryChartBuilder().width(760).height(420).title(figure[1] + " over HTTP")
                    .xAxisTitle("concurrency").yAxisTitle(figure[1]).build();
            List<String> xs = new ArrayList<>(byConcurrency.keySet());
            for (String mode : modes) {
                List<Double> ys = new ArrayList<>();
                for (String c : xs) {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> f = (Map<String, Object>) byConcurrency.get(c).get(mode);
                    ys.add((Double) f.get(figure[0]));
                }
                chart.addSeries(mode, xs, ys);
            }
            BitmapEncoder.saveBitmap(chart, out.resolve(figure[2]).toString(), BitmapEncoder.BitmapFormat.PNG);
        }
    }

    private static void print(Map<String, Map<String, Object>> byConcurrency, Map<String, Object> training) {
        System.out.printf(Locale.ROOT, "%-4s %-12s %9s %9s %9s %9s %10s %7s %6s %8s %8s%n", "c", "mode", "ttft p50",
                "tpot p50", "tpot p99", "e2e p50", "tokens/s", "accept", "mal", "speedup", "ceiling");
        byConcurrency.forEach((c, modes) -> modes.forEach((mode, figures) -> {
            @SuppressWarnings("unchecked")
            Map<String, Object> f = (Map<String, Object>) figures;
            System.out.printf(Locale.ROOT, "%-4s %-12s %7.1fms %7.2fms %7.2fms %7.1fms %10.1f %7.3f %6.2f %7.2fx %7.2fx%n",
                    c, mode, f.get("ttft_ms_p50"), f.get("tpot_ms_p50"), f.get("tpot_ms_p99"), f.get("e2e_ms_p50"),
                    f.get("output_tokens_per_s"), f.get("acceptance_rate"), f.get("mean_acceptance_length"),
                    f.get("speedup_tpot_p50"), f.get("ceiling"));
        }));
        training.forEach((state, figures) -> {
            @SuppressWarnings("unchecked")
            Map<String, Object> f = (Map<String, Object>) figures;
            System.out.printf(Locale.ROOT, "online c=1, trainers %-7s tpot p50 %.2f ms, %.1f tokens/s%n", state,
                    f.get("tpot_ms_p50"), f.get("output_tokens_per_s"));
        });
    }
}
