package dev.osd.app;

import ai.djl.ndarray.NDManager;
import com.google.gson.GsonBuilder;
import dev.osd.distillation.DraftTrainer;
import dev.osd.distillation.TrainerSettings;
import dev.osd.drafts.DraftCheckpointStore;
import dev.osd.drafts.DraftVersion;
import dev.osd.drafts.LiveDraft;
import dev.osd.engine.GenerationListener;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculationRound;
import dev.osd.engine.SpeculationStats;
import dev.osd.engine.SpeculativeDecoder;
import dev.osd.engine.SuffixProposer;
import dev.osd.engine.TextTokenizer;
import dev.osd.workload.Example;
import dev.osd.workload.TrafficSchedule;
import dev.osd.workload.Workload;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import me.tongfei.progressbar.ProgressBar;

/**
 * The paper's online experiment on this system: workload traffic in a schedule is served by speculative
 * decoding with drafts that are distilled online (updates on the one training thread, beside serving), and
 * the same requests are served by a static copy of the base draft. Per request it records which draft and
 * version served and both acceptance rates; at the end it summarises α per class (moving averages over 50
 * requests), the recovery after each shift, optionally a probe of every class with training paused (to see
 * forgetting), and the cost of training.
 */
final class OnlineBenchmark {

    static final int WINDOW = 50;

    /** What to run. */
    record Plan(TrafficSchedule.Kind schedule, List<String> classes, int requestsPerClass, boolean perClassDrafts,
            double temperature, int k, int maxTokens, TrainerSettings trainer, int probe, boolean staticBaseline,
            long seed, List<Example> traffic, SuffixProposer.Mode proposer) {

        /** The schedule's traffic with the draft model alone (as before traffic files and proposers). */
        Plan(TrafficSchedule.Kind schedule, List<String> classes, int requestsPerClass, boolean perClassDrafts,
                double temperature, int k, int maxTokens, TrainerSettings trainer, int probe, boolean staticBaseline,
                long seed) {
            this(schedule, classes, requestsPerClass, perClassDrafts, temperature, k, maxTokens, trainer, probe,
                    staticBaseline, seed, null, SuffixProposer.Mode.DRAFT);
        }

        /** A traffic file's example's class ("general" when it names none). */
        static String classOf(Example e) {
            return e.queryClass() == null ? "general" : e.queryClass();
        }
    }

    /** Suffix index size and longest suffix proposal of the benchmark's proposers (the serving defaults). */
    static final int SUFFIX_TOKENS = 65536;
    static final int SUFFIX_MAX_TOKENS = 16;

    /**
     * One served request. α is the token acceptance (accepted ÷ judged proposal positions, the paper's α), the
     * acceptance rate is accepted ÷ proposed (vLLM's draft_acceptance_rate); both for the online draft and for
     * the static base draft on the same request.
     */
    record Outcome(int index, String queryClass, String draft, long version, int proposed, int accepted,
            double alpha, double staticAlpha, double acceptanceRate, double staticAcceptanceRate,
            double meanAcceptanceLength, int tokens, double tpotMs, double staticTpotMs) {
    }

    private final LlamaModel target;
    private final LlamaModel base;
    private final TextTokenizer tokenizer;
    private final Plan plan;
    private final Map<String, SuffixProposer> suffixes = new HashMap<>();
    private final Map<String, long[]> byProposer = new LinkedHashMap<>();
    private long rounds;
    private long emitted;

    OnlineBenchmark(LlamaModel target, LlamaModel base, TextTokenizer tokenizer, Plan plan) {
        this.target = target;
        this.base = base;
        this.tokenizer = tokenizer;
        this.plan = plan;
    }

    Map<String, Object> run(Path out, NDManager manager) throws IOException, InterruptedException {
        Files.createDirectories(out);
        List<String> schedule = plan.traffic() != null ? plan.traffic().stream().map(Plan::classOf).toList()
                : TrafficSchedule.classes(plan.schedule(), plan.classes(),
                        plan.requestsPerClass() * plan.classes().size(), plan.seed());
        Map<String, LiveDraft> drafts = new LinkedHashMap<>();
        Map<String, DraftTrainer> trainers = new LinkedHashMap<>();
        ExecutorService training = DraftTrainer.newTrainingExecutor();
        int positions = Math.min(target.config().maxPositionEmbeddings(), base.config().maxPositionEmbeddings());
        List<Outcome> outcomes = new ArrayList<>();
        List<Outcome> probes = new ArrayList<>();
        List<DraftTrainer.Stats> stats = new ArrayList<>();
        long started = System.nanoTime();
        try (KvCachePool targetPool = target.newCachePool(1, positions);
                KvCachePool draftPool = new KvCachePool(base.config(), 1, positions, manager)) {
            for (String c : plan.classes()) {
                String name = draftFor(c);
                if (!drafts.containsKey(name)) {
                    LiveDraft live = new LiveDraft(new DraftVersion(name, 0, -1,
                            LlamaModel.of(base.weights().copy(manager))));
                    drafts.put(name, live);
                    trainers.put(name, new DraftTrainer(live, plan.trainer(), training,
                            new DraftCheckpointStore(out.resolve("drafts").resolve(name), name, 3), manager));
                }
            }
            SpeculativeDecoder staticDecoder = new SpeculativeDecoder(target, targetPool, base, draftPool, tokenizer);
            Map<String, Integer> served = new HashMap<>();
            try (PrintWriter csv = new PrintWriter(Files.newBufferedWriter(out.resolve("alpha.csv")));
                    ProgressBar bar = Progress.bar("online " + plan.schedule().name().toLowerCase(Locale.ROOT),
                            schedule.size(), System.err).build()) {
                csv.println("request,class,draft,draft_version,alpha,static_alpha,acceptance_rate,"
                        + "static_acceptance_rate,mean_acceptance_length,proposed,accepted,tokens,tpot_ms,static_tpot_ms");
                double recent = 0;
                for (int i = 0; i < schedule.size(); i++) {
                    String c = schedule.get(i);
                    int n = served.merge(c, 1, Integer::sum) - 1;
                    Outcome o = serve(i, c, n, drafts.get(draftFor(c)), trainers.get(draftFor(c)), staticDecoder,
                            targetPool, draftPool);
                    outcomes.add(o);
                    csv.printf(Locale.ROOT, "%d,%s,%s,%d,%.4f,%.4f,%.4f,%.4f,%.3f,%d,%d,%d,%.3f,%.3f%n", o.index(),
                            o.queryClass(), o.draft(), o.version(), o.alpha(), o.staticAlpha(), o.acceptanceRate(),
                            o.staticAcceptanceRate(), o.meanAcceptanceLength(), o.proposed(), o.accepted(), o.tokens(),
                            o.tpotMs(), o.staticTpotMs());
                    recent = i == 0 ? o.alpha() : recent + (o.alpha() - recent) / Math.min(i + 1, WINDOW);
                    bar.step();
                    bar.setExtraMessage(String.format(Locale.ROOT, "alpha %.2f  %s v%d", recent, o.draft(), o.version()));
                }
            }
            for (DraftTrainer t : trainers.values()) {
                t.awaitIdle();
            }
            if (plan.probe() > 0) {
                trainers.values().forEach(DraftTrainer::pause);
                int index = schedule.size();
                for (String c : plan.classes()) {
                    for (int j = 0; j < plan.probe(); j++) {
                        // past every index the run used, so probe prompts are new
                        int n = plan.requestsPerClass() * plan.classes().size() + j;
                        probes.add(serve(index++, c, n, drafts.get(draftFor(c)), null, staticDecoder, targetPool,
                                draftPool));
                    }
                }
            }
            for (DraftTrainer t : trainers.values()) {
                stats.add(t.stats());
            }
        } finally {
            for (DraftTrainer t : trainers.values()) {
                t.close();
            }
            training.shutdown();
            training.awaitTermination(1, TimeUnit.MINUTES);
            drafts.values().forEach(LiveDraft::close);
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        Map<String, Object> summary = OnlineSummary.of(plan, schedule, outcomes, probes, stats, seconds);
        summary.put("proposer", plan.proposer().name().toLowerCase(Locale.ROOT));
        summary.put("requests", outcomes.size());
        summary.put("mean_acceptance_length", rounds == 0 ? 1.0 : (double) emitted / rounds);
        summary.put("tpot_ms", outcomes.stream().mapToDouble(Outcome::tpotMs).filter(x -> !Double.isNaN(x))
                .average().orElse(Double.NaN));
        Map<String, Object> proposers = new LinkedHashMap<>();
        byProposer.forEach((name, sum) -> proposers.put(name, Map.of("rounds", sum[0], "proposed", sum[1],
                "accepted", sum[2], "mean_acceptance_length", sum[0] == 0 ? 1.0 : 1.0 + (double) sum[2] / sum[0])));
        summary.put("proposers", proposers);
        Files.writeString(out.resolve("summary.json"),
                new GsonBuilder().setPrettyPrinting().serializeNulls()
                        .serializeSpecialFloatingPointValues().create().toJson(summary));
        OnlinePlots.write(out, plan, schedule, outcomes);
        return summary;
    }

    private String draftFor(String queryClass) {
        return plan.perClassDrafts() ? queryClass : "shared";
    }

    private Outcome serve(int index, String queryClass, int n, LiveDraft live, DraftTrainer trainer,
            SpeculativeDecoder staticDecoder, KvCachePool targetPool, KvCachePool draftPool) {
        Example e = plan.traffic() != null ? plan.traffic().get(index)
                : Workload.example(Workload.get(queryClass), Workload.Split.HELD_OUT, n, plan.seed());
        int[] prompt = Prompts.encode(tokenizer, target.config(), e.prompt());
        SamplingParams sampling = plan.temperature() == 0 ? SamplingParams.GREEDY
                : SamplingParams.sample(plan.temperature(), plan.seed() * 1_000_003L + index);
        GenerationRequest request = GenerationRequest.of(prompt, plan.maxTokens(), sampling, plan.k());
        GenerationResult online;
        long version;
        try (DraftVersion v = live.acquire()) {
            version = v.version();
            SpeculativeDecoder decoder = new SpeculativeDecoder(target, targetPool, v.model(), draftPool, tokenizer);
            if (plan.proposer() != SuffixProposer.Mode.DRAFT) {
                decoder.withSuffix(suffixes.computeIfAbsent(live.name(), x -> new SuffixProposer(plan.proposer(),
                        SUFFIX_TOKENS, SUFFIX_MAX_TOKENS)));
            }
            online = decoder.generate(request, trainer == null ? GenerationListener.NONE : new GenerationListener() {
                @Override
                public void onRound(SpeculationRound round) {
                    trainer.offer(round);
                }
            });
        }
        double staticAlpha = Double.NaN;
        double staticRate = Double.NaN;
        double staticTpot = Double.NaN;
        if (plan.staticBaseline()) {
            GenerationResult s = staticDecoder.generate(request);
            staticAlpha = s.stats().tokenAcceptance();
            staticRate = s.stats().acceptanceRate();
            staticTpot = s.timePerOutputToken() * 1e3;
        }
        SpeculationStats st = online.stats();
        rounds += st.rounds();
        emitted += st.rounds() + st.acceptedTokens();
        st.byProposer().forEach((name, f) -> {
            long[] sum = byProposer.computeIfAbsent(name, x -> new long[3]);
            sum[0] += f.rounds();
            sum[1] += f.proposed();
            sum[2] += f.accepted();
        });
        return new Outcome(index, queryClass, live.name(), version, st.draftTokens(), st.acceptedTokens(),
                st.tokenAcceptance(), staticAlpha, st.acceptanceRate(), staticRate, st.meanAcceptanceLength(),
                online.tokens().length, online.timePerOutputToken() * 1e3, staticTpot);
    }
}
