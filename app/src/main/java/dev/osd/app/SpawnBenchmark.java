package dev.osd.app;

import com.google.gson.GsonBuilder;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.DraftLifecycle;
import dev.osd.actors.RequestActor;
import dev.osd.actors.ServingSystem;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.SamplingParams;
import dev.osd.workload.Example;
import dev.osd.workload.QueryClass;
import dev.osd.workload.TrafficFile;
import dev.osd.workload.Workload;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import me.tongfei.progressbar.ProgressBar;

/**
 * Traffic nobody planned for, served by one node as {@code ./osd serve} runs it: requests of a kind the project's
 * generators do not make (a JSON Lines file) interleaved with the embedded classes' traffic, once with drafts
 * that spawn themselves for poorly served traffic clusters and once with the shared general draft alone, the
 * same requests in the same order. Per mode it records which draft served each request and the token
 * acceptance α it earned, and when the spawn decision came; the summary compares α on the new kind's requests
 * window by window.
 */
final class SpawnBenchmark {

    static final int WINDOW = 50;

    /**
     * The traffic around the new kind, in turn: each embedded class once and the embedded general text twice, so
     * the general draft is shared with other traffic that fits no class, as in a real service.
     */
    static final List<QueryClass> BACKGROUND = List.of(Workload.CLASSES.get(0), Workload.GENERAL,
            Workload.CLASSES.get(1), Workload.CLASSES.get(2), Workload.GENERAL, Workload.CLASSES.get(3));

    /** One served request. */
    record Outcome(int index, String kind, int newKindIndex, String draft, double alpha, int tokens) {
    }

    private final ModelPair models;
    private final List<Example> newKind;
    private final int classEvery;
    private final int maxTokens;

    /**
     * @param newKind the new kind's requests, in order
     * @param classEvery requests of the embedded classes served before each request of the new kind
     */
    SpawnBenchmark(ModelPair models, List<Example> newKind, int classEvery, int maxTokens) {
        this.models = models;
        this.newKind = newKind;
        this.classEvery = classEvery;
        this.maxTokens = maxTokens;
    }

    static List<Example> read(Path traffic, int requests) throws IOException {
        List<Example> all = TrafficFile.read(traffic);
        if (all.isEmpty()) {
            throw new IllegalArgumentException(traffic + " holds no requests");
        }
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            out.add(all.get(i % all.size()));
        }
        return out;
    }

    Map<String, Object> run(Path out) throws Exception {
        Files.createDirectories(out);
        Map<String, Object> summary = new LinkedHashMap<>();
        Map<String, List<Outcome>> byMode = new LinkedHashMap<>();
        int total = 2 * newKind.size() * (1 + classEvery);
        try (ProgressBar bar = Progress.bar("bench spawn", total, System.err).build()) {
            for (String mode : List.of("spawn", "shared")) {
                bar.setExtraMessage(" " + mode);
                Config config = ConfigFactory.parseString("osd.routing.spawn.enabled = " + mode.equals("spawn"))
                        .withFallback(ConfigFactory.load());
                ServingStack.Options options = new ServingStack.Options(true, true, null,
                        ServingSystem.Settings.of(config), config);
                try (ServingStack stack = new ServingStack("bench-spawn-" + mode, models, options)) {
                    stack.awaitReady(Duration.ofMinutes(2));
                    List<Outcome> outcomes = serve(stack.system(), bar, summary, mode);
                    byMode.put(mode, outcomes);
                }
            }
        }
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(out.resolve("spawn.csv")))) {
            w.println("mode,index,kind,new_kind_index,draft,alpha,tokens");
            byMode.forEach((mode, list) -> list.forEach(o -> w.printf(Locale.ROOT, "%s,%d,%s,%d,%s,%.4f,%d%n", mode,
                    o.index(), o.kind(), o.newKindIndex(), o.draft(), o.alpha(), o.tokens())));
        }
        List<Map<String, Object>> windows = new ArrayList<>();
        for (int start = 0; start < newKind.size(); start += WINDOW) {
            Map<String, Object> w = new LinkedHashMap<>();
            w.put("new_kind_requests", (start + 1) + "-" + Math.min(newKind.size(), start + WINDOW));
            for (String mode : byMode.keySet()) {
                w.put("alpha_" + mode, meanAlpha(byMode.get(mode), start, start + WINDOW));
            }
            windows.add(w);
        }
        summary.put("windows", windows);
        int last = Math.max(0, newKind.size() - WINDOW);
        double spawned = meanAlpha(byMode.get("spawn"), last, newKind.size());
        double shared = meanAlpha(byMode.get("shared"), last, newKind.size());
        summary.put("alpha_last_window_spawn", spawned);
        summary.put("alpha_last_window_shared", shared);
        summary.put("alpha_gain_last_window", spawned - shared);
        summary.put("classes_alpha_spawn", classAlpha(byMode.get("spawn")));
        summary.put("classes_alpha_shared", classAlpha(byMode.get("shared")));
        Files.writeString(out.resolve("summary.json"), new GsonBuilder().setPrettyPrinting()
                .serializeSpecialFloatingPointValues().create().toJson(summary));
        return summary;
    }

    private List<Outcome> serve(ServingSystem system, ProgressBar bar, Map<String, Object> summary, String mode)
            throws Exception {
        List<Outcome> outcomes = new ArrayList<>();
        int index = 0;
        int background = 0;
        Integer decidedAt = null;
        for (int n = 0; n < newKind.size(); n++) {
            for (int c = 0; c < classEvery; c++) {
                QueryClass q = BACKGROUND.get(background % BACKGROUND.size());
                Example e = Workload.example(q, Workload.Split.HELD_OUT, background++, 11);
                outcomes.add(serveOne(system, index++, q.name(), -1, e.prompt()));
                bar.step();
            }
            Example e = newKind.get(n);
            outcomes.add(serveOne(system, index++, e.queryClass() == null ? "new" : e.queryClass(), n, e.prompt()));
            bar.step();
            if (decidedAt == null && !system.spawnedDrafts().isEmpty()) {
                decidedAt = n + 1;
                Map<String, Object> decision = new LinkedHashMap<>();
                decision.put("after_new_kind_requests", decidedAt);
                for (Map.Entry<String, DraftLifecycle.Spawned> s : system.spawnedDrafts().entrySet()) {
                    decision.put("draft", s.getKey());
                    decision.put("cluster", s.getValue().cluster());
                    decision.put("reason", s.getValue().reason());
                    decision.put("started_from", s.getValue().startedFrom());
                    decision.put("records", s.getValue().records());
                }
                summary.put("decision", decision);
            }
        }
        summary.put("spawned_drafts_at_end_" + mode, List.copyOf(system.spawnedDrafts().keySet()));
        return outcomes;
    }

    private Outcome serveOne(ServingSystem system, int index, String kind, int newKindIndex, String prompt)
            throws Exception {
        int[] tokens = Prompts.encode(models.tokenizer(), models.targetConfig(), prompt);
        GenerationRequest r = new GenerationRequest(tokens, maxTokens, SamplingParams.GREEDY, null, false, 5);
        RequestActor.Finished f = system.submit(ServingSystem.Submission.of(r, prompt), null)
                .toCompletableFuture().get(2, TimeUnit.MINUTES);
        return new Outcome(index, kind, newKindIndex, f.draft() == null ? "" : f.draft(),
                f.result().stats().tokenAcceptance(), f.result().tokens().length);
    }

    private static double meanAlpha(List<Outcome> outcomes, int from, int to) {
        return outcomes.stream().filter(o -> o.newKindIndex() >= from && o.newKindIndex() < to)
                .mapToDouble(Outcome::alpha).filter(Double::isFinite).average().orElse(Double.NaN);
    }

    private static Map<String, Double> classAlpha(List<Outcome> outcomes) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (QueryClass q : BACKGROUND.stream().distinct().toList()) {
            out.put(q.name(), outcomes.stream().filter(o -> o.kind().equals(q.name())).mapToDouble(Outcome::alpha)
                    .filter(Double::isFinite).average().orElse(Double.NaN));
        }
        return out;
    }
}
