package dev.osd.app;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.DraftWeights;
import dev.osd.actors.ServingSystem;
import dev.osd.http.HttpServer;
import dev.osd.workload.Workload;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import me.tongfei.progressbar.ProgressBar;

/**
 * {@code ./osd bench cluster}: the cost of crossing nodes. The same streamed workload over HTTP against one
 * node with every role, then against a four-node Pekko Cluster in this JVM on loopback (gateway; target; draft
 * replica + trainers; draft replica), every message through Artery and Kryo; how long new draft versions take
 * to reach the other replica; and how many requests are lost when a draft replica's node crashes under load.
 */
final class ClusterBenchmark {

    private final ModelPair models;
    private final List<Integer> concurrency;
    private final int requests;
    private final int warmup;
    private final ServingSystem.Settings settings;
    private final ServeBenchmark client;

    ClusterBenchmark(ModelPair models, List<Integer> concurrency, int requests, int warmup, int maxTokens,
            ServingSystem.Settings settings) {
        this.models = models;
        this.concurrency = concurrency;
        this.requests = requests;
        this.warmup = warmup;
        this.settings = settings;
        this.client = new ServeBenchmark(models, concurrency, requests, warmup, maxTokens, settings);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A member; a crashable one stops without leaving the cluster when terminated (as a crash would). */
    static Config node(int port, int seed, Set<String> roles, boolean crashable) {
        return ConfigFactory.parseString("pekko.coordinated-shutdown.run-by-actor-system-terminate = "
                + (crashable ? "off" : "on")).withFallback(ServingStack.loopbackNode(port, seed, roles));
    }

    Map<String, Object> run(Path out) throws Exception {
        Files.createDirectories(out);
        Map<String, Object> summary = new LinkedHashMap<>();
        int total = 2 * (warmup + concurrency.size() * requests) + requests;
        try (ProgressBar bar = Progress.bar("bench cluster", total, System.err).continuousUpdate()
                .build()) {
            bar.setExtraMessage(" one node");
            try (ServingStack one = new ServingStack("osd", models, new ServingStack.Options(true, true, null,
                    settings, null));
                    HttpServer http = HttpServer.start(one.system(), models.tokenizer(),
                            HttpServer.Settings.builder().optPort(0).build())) {
                one.awaitReady(Duration.ofMinutes(2));
                summary.put("one_node", measure(http.url(), bar));
            }
            bar.setExtraMessage(" four-node cluster");
            int seed = freePort();
            List<DraftWeights.Received> received = new CopyOnWriteArrayList<>();
            List<ServingStack> nodes = new ArrayList<>();
            ServingStack replica = null;
            try {
                nodes.add(new ServingStack("osd", models, options(seed, seed, Set.of("gateway"), false, received)));
                nodes.add(new ServingStack("osd", models, options(freePort(), seed, Set.of("target"), false,
                        received)));
                nodes.add(new ServingStack("osd", models, options(freePort(), seed, Set.of("draft", "trainer"), false,
                        received)));
                replica = new ServingStack("osd", models, options(freePort(), seed, Set.of("draft"), true, received));
                try (HttpServer http = HttpServer.start(nodes.get(0).system(), models.tokenizer(),
                        HttpServer.Settings.builder().optPort(0).build())) {
                    awaitReplicas(nodes.get(0).system(), 2);
                    summary.put("cluster", measure(http.url(), bar));
                    summary.put("version_transfer", transfers(received));
                    bar.setExtraMessage(" a replica's node crashes under load");
                    summary.put("crash", crash(http.url(), replica, bar));
                    replica = null;
                }
            } finally {
                if (replica != null) {
                    replica.close();
                }
                for (int i = nodes.size() - 1; i >= 0; i--) {
                    nodes.get(i).close();
                }
            }
        }
        Files.writeString(out.resolve("summary.json"), new GsonBuilder().setPrettyPrinting()
                .serializeSpecialFloatingPointValues().create().toJson(summary));
        print(summary);
        return summary;
    }

    private ServingStack.Options options(int port, int seed, Set<String> roles, boolean crashable,
            List<DraftWeights.Received> received) {
        return new ServingStack.Options(true, true, null, settings, node(port, seed, roles, crashable), roles,
                received::add);
    }

    /** Warm-up, then each concurrency (online drafts, as a user gets them). */
    private Map<String, Object> measure(String url, ProgressBar bar) throws Exception {
        client.phase(url, 4, warmup, 100_000, bar);
        Map<String, Object> byConcurrency = new LinkedHashMap<>();
        int offset = 0;
        for (int c : concurrency) {
            byConcurrency.put(Integer.toString(c), ServeBenchmark.summarize(client.phase(url, c, requests, offset,
                    bar)));
            offset += requests;
        }
        return byConcurrency;
    }

    private static Map<String, Object> transfers(List<DraftWeights.Received> received) {
        double[] delays = received.stream().mapToDouble(DraftWeights.Received::delayMillis).sorted().toArray();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("versions_received", delays.length);
        m.put("delay_ms_p50", ServeBenchmark.percentile(delays, 0.5));
        m.put("delay_ms_p99", ServeBenchmark.percentile(delays, 0.99));
        m.put("delay_ms_max", delays.length == 0 ? Double.NaN : delays[delays.length - 1]);
        m.put("note", "from the publisher's look that found the version (it looks every 1 s, so add up to 1 s) to the "
                + "replica serving it");
        return m;
    }

    /** Concurrency 8; the draft-only replica's node terminates abruptly (no leave) after a third is sent. */
    private Map<String, Object> crash(String url, ServingStack replica, ProgressBar bar) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        List<String> prompts = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            String c = ServeBenchmark.CLASSES.get(i % ServeBenchmark.CLASSES.size());
            prompts.add(Workload.example(Workload.get(c), Workload.Split.HELD_OUT, 5000 + i, 23).prompt());
            expected.add(text(http.send(post(url, prompts.get(i), false), HttpResponse.BodyHandlers.ofString())));
        }
        Semaphore inFlight = new Semaphore(8);
        List<CompletableFuture<HttpResponse<String>>> replies = new ArrayList<>();
        long start = System.nanoTime();
        for (int i = 0; i < requests; i++) {
            inFlight.acquire();
            CompletableFuture<HttpResponse<String>> f = http.sendAsync(post(url, prompts.get(i), true),
                    HttpResponse.BodyHandlers.ofString());
            f.whenComplete((r, t) -> {
                inFlight.release();
                bar.step();
            });
            replies.add(f);
            if (i == requests / 3) {
                CompletableFuture.runAsync(replica::close);
            }
        }
        int ok = 0;
        int wrong = 0;
        int failed = 0;
        for (int i = 0; i < requests; i++) {
            try {
                HttpResponse<String> r = replies.get(i).get(5, TimeUnit.MINUTES);
                if (r.statusCode() != 200) {
                    failed++;
                } else if (text(r).equals(expected.get(i))) {
                    ok++;
                } else {
                    wrong++;
                }
            } catch (Exception e) {
                failed++;
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("requests", requests);
        m.put("answered_with_the_target_only_text", ok);
        m.put("answered_with_other_text", wrong);
        m.put("lost", failed);
        m.put("seconds", (System.nanoTime() - start) / 1e9);
        return m;
    }

    private static HttpRequest post(String url, String prompt, boolean speculate) {
        JsonObject body = new JsonObject();
        body.addProperty("prompt", prompt);
        body.addProperty("max_tokens", 64);
        body.addProperty("temperature", 0);
        if (!speculate) {
            JsonObject s = new JsonObject();
            s.addProperty("enabled", false);
            body.add("speculation", s);
        }
        return HttpRequest.newBuilder(URI.create(url + "/v1/completions")).timeout(Duration.ofMinutes(5))
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
    }

    private static String text(HttpResponse<String> r) {
        if (r.statusCode() != 200) {
            return "HTTP " + r.statusCode();
        }
        return JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonArray("choices").get(0).getAsJsonObject()
                .get("text").getAsString();
    }

    private static void awaitReplicas(ServingSystem gateway, int replicas) throws InterruptedException {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (System.nanoTime() < deadline) {
            var r = gateway.readiness();
            if (r.targets() > 0 && r.draftReplicas().values().stream().allMatch(n -> n >= replicas)) {
                return;
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("the cluster did not become ready");
    }

    @SuppressWarnings("unchecked")
    private void print(Map<String, Object> summary) {
        System.out.printf(Locale.ROOT, "%-10s %-4s %9s %9s %9s %10s %8s%n", "setup", "c", "ttft p50", "tpot p50",
                "e2e p50", "tokens/s", "req/s");
        for (String setup : List.of("one_node", "cluster")) {
            ((Map<String, Object>) summary.get(setup)).forEach((c, figures) -> {
                Map<String, Object> f = (Map<String, Object>) figures;
                System.out.printf(Locale.ROOT, "%-10s %-4s %7.1fms %7.2fms %7.1fms %10.1f %8.2f%n", setup, c,
                        f.get("ttft_ms_p50"), f.get("tpot_ms_p50"), f.get("e2e_ms_p50"), f.get("output_tokens_per_s"),
                        f.get("requests_per_s"));
            });
        }
        System.out.println("version transfer: " + summary.get("version_transfer"));
        System.out.println("crash under load: " + summary.get("crash"));
    }
}
