package dev.osd.app;

import ai.djl.ndarray.NDManager;
import dev.osd.actors.RequestActor;
import dev.osd.actors.ServingSystem;
import dev.osd.distillation.DraftTrainer;
import dev.osd.distillation.TrainerSettings;
import dev.osd.drafts.DraftVersion;
import dev.osd.drafts.LiveDraft;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.TextTokenizer;
import dev.osd.routing.Router;
import dev.osd.workload.Example;
import dev.osd.workload.Workload;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;

/**
 * The serving core through its Java API on the embedded default: target-only, the static base draft, and
 * online drafts (one per class, warmed up on traffic first), at several concurrencies; plus online serving
 * with trainers active against paused.
 */
final class ServingBenchmark {

    private final LlamaModel target;
    private final LlamaModel base;
    private final TextTokenizer tokenizer;
    private final NDManager manager;
    private final int maxTokens;
    private final double costRatio;

    ServingBenchmark(LlamaModel target, LlamaModel base, TextTokenizer tokenizer, NDManager manager, int maxTokens,
            double costRatio) {
        this.target = target;
        this.base = base;
        this.tokenizer = tokenizer;
        this.manager = manager;
        this.maxTokens = maxTokens;
        this.costRatio = costRatio;
    }

    /** A system for a mode; for "online" its drafts train on what they serve. */
    final class Mode implements AutoCloseable {
        final String name;
        final ServingSystem system;
        final List<LiveDraft> lives = new ArrayList<>();
        final List<DraftTrainer> trainers = new ArrayList<>();
        final ExecutorService training = DraftTrainer.newTrainingExecutor();

        Mode(String name, int slots) {
            this.name = name;
            List<ServingSystem.Draft> drafts = new ArrayList<>();
            if (!name.equals("target_only")) {
                for (String c : List.of("sql", "math", "code", "finance")) {
                    LiveDraft live = new LiveDraft(new DraftVersion(c, 0, -1, LlamaModel.of(base.weights().copy(manager))));
                    lives.add(live);
                    DraftTrainer trainer = name.equals("online")
                            ? new DraftTrainer(live, TrainerSettings.defaults(base.config().vocabSize()), training, null,
                                    manager)
                            : null;
                    if (trainer != null) {
                        trainers.add(trainer);
                    }
                    drafts.add(new ServingSystem.Draft(c, live, trainer));
                }
            }
            Router router = new Router(Router.embeddedRules(), null, null, 0);
            system = ServingSystem.start("bench-" + name, target, tokenizer, drafts, router,
                    new ServingSystem.Settings(slots, 16, java.time.Duration.ofSeconds(5), costRatio, 1, 5), manager);
        }

        @Override
        public void close() {
            system.close();
            trainers.forEach(DraftTrainer::close);
            training.shutdown();
            lives.forEach(LiveDraft::close);
        }
    }

    /** Serves n requests (classes in turn, held-out prompts from {@code offset}) with c in flight. */
    Map<String, Object> run(Mode mode, int concurrency, int n, int offset) throws Exception {
        List<String> classes = List.of("sql", "math", "code", "finance");
        Semaphore inFlight = new Semaphore(concurrency);
        dev.osd.actors.TargetActor.Stats before = mode.system.targetStats();
        List<CompletableFuture<RequestActor.Finished>> results = new ArrayList<>();
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            String c = classes.get(i % classes.size());
            Example e = Workload.example(Workload.get(c), Workload.Split.HELD_OUT, offset + i / classes.size(), 11);
            GenerationRequest r = GenerationRequest.of(Prompts.encode(tokenizer, target.config(), e.prompt()), maxTokens,
                    SamplingParams.GREEDY, 5);
            inFlight.acquire();
            boolean speculate = !mode.name.equals("target_only");
            CompletableFuture<RequestActor.Finished> f = mode.system.submit(new ServingSystem.Submission(r, e.prompt(),
                    null, false, speculate), null).toCompletableFuture();
            f.whenComplete((x, t) -> inFlight.release());
            results.add(f);
        }
        double[] tpot = new double[n];
        long tokens = 0;
        long accepted = 0;
        long judged = 0;
        for (int i = 0; i < n; i++) {
            RequestActor.Finished f = results.get(i).join();
            if (f.problem() != null) {
                throw new IllegalStateException("request failed: " + f.problem());
            }
            tpot[i] = f.result().timePerOutputToken() * 1e3;
            tokens += f.result().tokens().length;
            accepted += f.result().stats().acceptedTokens();
            judged += f.result().stats().acceptedTokens() + f.result().stats().rejections();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        dev.osd.actors.TargetActor.Stats after = mode.system.targetStats();
        double meanBatch = (double) (after.scored() - before.scored()) / Math.max(1, after.forwards() - before.forwards());
        Arrays.sort(tpot);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("requests", n);
        m.put("tpot_ms_p50", tpot[n / 2]);
        m.put("tpot_ms_p99", tpot[Math.min(n - 1, (int) Math.ceil(n * 0.99) - 1)]);
        m.put("output_tokens_per_s", tokens / seconds);
        m.put("token_acceptance", judged == 0 ? 0 : (double) accepted / judged);
        m.put("seconds", seconds);
        m.put("mean_batch", meanBatch);
        m.put("batch_fill", meanBatch / Math.min(16, concurrency));
        System.out.printf(Locale.ROOT, "%-12s c=%-3d tpot p50 %6.2f ms  p99 %6.2f ms  %7.1f tokens/s  alpha %.2f  "
                + "batch %.2f%n", mode.name, concurrency, tpot[n / 2], m.get("tpot_ms_p99"), tokens / seconds,
                m.get("token_acceptance"), meanBatch);
        return m;
    }
}
