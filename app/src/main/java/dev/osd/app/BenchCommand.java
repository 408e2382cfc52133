package dev.osd.app;

import ai.djl.ndarray.NDManager;
import com.google.gson.GsonBuilder;
import dev.osd.actors.ServingSystem;
import dev.osd.actors.TargetDevice;
import dev.osd.distillation.Divergence;
import dev.osd.distillation.RecordPolicy;
import dev.osd.distillation.TrainerSettings;
import dev.osd.engine.EngineBenchmark;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SuffixProposer;
import dev.osd.engine.TextTokenizer;
import dev.osd.workload.Example;
import dev.osd.workload.QueryClass;
import dev.osd.workload.RepetitiveTraffic;
import dev.osd.workload.TrafficFile;
import dev.osd.workload.TrafficSchedule;
import dev.osd.workload.Workload;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code osd bench ...}: the benchmarks, each a subcommand. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks.",
        subcommands = {BenchCommand.Engine.class, BenchCommand.Models.class, BenchCommand.Online.class,
                BenchCommand.Serve.class, BenchCommand.ClusterBench.class, BenchCommand.Peers.class,
                BenchCommand.Spawn.class})
final class BenchCommand implements Runnable {

    @Spec
    CommandSpec spec;

    /** {@code osd bench} alone: its commands, as {@code osd bench --help} lists them. */
    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "engine", mixinStandardHelpOptions = true,
            description = "Forward cost of the embedded target and draft and of ~0.5M, 5M and 25M-parameter random "
                    + "models, CPU (Vector API) and DJL forwards side by side: decode, verification, batch of 8, "
                    + "40-token prefill, cost ratio.")
    static final class Engine implements Callable<Integer> {

        @Option(names = "--k", defaultValue = "4", description = "Proposal length; verification scores k+1 tokens.")
        int k;

        @Option(names = "--context", defaultValue = "128", description = "Tokens already in each cache.")
        int context;

        @Option(names = "--vocab", defaultValue = "2048", description = "Vocabulary size of the random models.")
        int vocab;

        @Option(names = "--seconds", defaultValue = "2", description = "Measuring time per figure.")
        double seconds;

        @Option(names = "--model", description = "Checkpoint directories to time (default: the embedded target "
                + "and draft).", split = ",")
        List<Path> models;

        @Option(names = "--no-random", description = "Only the checkpoints, not the random sizes.")
        boolean noRandom;

        @Override
        public Integer call() {
            EngineBenchmark bench = new EngineBenchmark(k, context, seconds);
            List<EngineBenchmark.Size> sizes = new ArrayList<>();
            List<Path> dirs = models != null ? models
                    : Stream.of(Osd.embedded("target"), Osd.embedded("draft"))
                            .filter(Objects::nonNull).toList();
            for (Path dir : dirs) {
                sizes.add(new EngineBenchmark.Size(dir.getFileName().toString(), null, dir));
            }
            if (!noRandom) {
                sizes.addAll(EngineBenchmark.defaultSizes(vocab));
            }
            List<EngineBenchmark.Figures> figures = new ArrayList<>();
            System.out.println("threads: CPU forward " + System.getProperty("osd.engine.threads", "1")
                    + " (OSD_THREADS), PyTorch intra-op " + System.getProperty("ai.djl.pytorch.num_threads", "default")
                    + "; times in ms per forward call, medians of interleaved rounds");
            try (NDManager manager = NDManager.newBaseManager()) {
                for (EngineBenchmark.Size size : sizes) {
                    System.out.println("timing " + size.name() + " ...");
                    figures.addAll(bench.measure(size, manager));
                }
            }
            EngineBenchmark.printTable(figures, k, System.out);
            return 0;
        }
    }

    @Command(name = "models", mixinStandardHelpOptions = true,
            description = "Per query class on held-out prompts: target loss and greedy exact match, draft loss and "
                    + "acceptance against the target at temperature 0 and 1; the cost ratio c.")
    static final class Models implements Callable<Integer> {

        @Option(names = "--model", description = "Target directory (default models/target).")
        Path model;

        @Option(names = "--draft", description = "Draft directory (default models/draft).")
        Path draft;

        @Option(names = "--prompts", defaultValue = "50", description = "Held-out prompts per class.")
        int prompts;

        @Option(names = "--k", defaultValue = "5", description = "Proposal length.")
        int k;

        @Option(names = "--seed", defaultValue = "7")
        long seed;

        @Option(names = "--out", description = "Also write the figures as JSON here.")
        Path out;

        @Override
        public Integer call() throws IOException {
            try (ModelPair models = ModelPair.open(model, draft)) {
                LlamaModel target = models.target();
                LlamaModel draftModel = models.draft();
                TextTokenizer tokenizer = models.tokenizer();
                ModelsBenchmark bench = new ModelsBenchmark(target, draftModel, tokenizer, k);
                List<ModelsBenchmark.ClassFigures> figures = new ArrayList<>();
                System.out.printf(Locale.ROOT, "%-8s %7s %11s %11s %10s %10s %10s%n", "class", "prompts",
                        "target loss", "exact match", "draft loss", "alpha T=0", "alpha T=1");
                for (QueryClass c : ModelsBenchmark.allClasses()) {
                    ModelsBenchmark.ClassFigures f = bench.measure(c, prompts, seed);
                    figures.add(f);
                    System.out.printf(Locale.ROOT, "%-8s %7d %11.3f %11.2f %10.3f %10.3f %10.3f%n",
                            f.queryClass(), f.prompts(), f.targetLoss(), f.exactMatch(), f.draftLoss(),
                            f.alphaGreedy(), f.alphaSampled());
                }
                double draftMs = ModelsBenchmark.decodeMillis(draftModel);
                double targetMs = ModelsBenchmark.decodeMillis(target);
                System.out.printf(Locale.ROOT,
                        "decode at 64 tokens of context: draft %.3f ms, target %.3f ms, cost ratio c = %.3f%n",
                        draftMs, targetMs, draftMs / targetMs);
                System.out.printf(Locale.ROOT, "parameters: target %d, draft %d (k = %d)%n",
                        target.config().parameterCount(), draftModel.config().parameterCount(), k);
                if (out != null) {
                    Files.writeString(out, new GsonBuilder().setPrettyPrinting()
                            .create().toJson(ModelsBenchmark.summary(figures, draftMs, targetMs)));
                }
            }
            return 0;
        }
    }

    @Command(name = "online", mixinStandardHelpOptions = true,
            description = "Online distillation as in the paper: workload traffic in a schedule served by speculative "
                    + "decoding while the drafts are distilled online, next to a static copy of the base draft on the "
                    + "same requests. Writes DIR/alpha.csv, DIR/summary.json and PNG plots.")
    static final class Online implements Callable<Integer> {

        @Option(names = "--schedule", defaultValue = "mixed", description = "mixed, sharp or smooth.")
        String schedule;

        @Option(names = "--requests", defaultValue = "500", description = "Requests per class.")
        int requests;

        @Option(names = "--out", required = true, description = "Output directory.")
        Path out;

        @Option(names = "--loss", defaultValue = "fkl", description = "Divergence: fkl, rkl, jsd, jsd:BETA or tvd.")
        String loss;

        @Option(names = "--temperature", defaultValue = "0", description = "Sampling temperature (0: greedy).")
        double temperature;

        @Option(names = "--classes", defaultValue = "sql,math,code,finance", split = ",",
                description = "Query classes, in the order a shift visits them.")
        List<String> classes;

        @Option(names = "--drafts", defaultValue = "per-class",
                description = "per-class (one draft per query class) or shared (one draft for all).")
        String drafts;

        @Option(names = "--k", defaultValue = "5", description = "Proposal length.")
        int k;

        @Option(names = "--max-tokens", defaultValue = "96", description = "Most tokens per response.")
        int maxTokens;

        @Option(names = "--interval", defaultValue = "8", description = "Fresh records per update (I).")
        int interval;

        @Option(names = "--replay", defaultValue = "8", description = "Replayed records per update.")
        int replay;

        @Option(names = "--lr", defaultValue = "1e-3", description = "AdamW learning rate.")
        double lr;

        @Option(names = "--steps", defaultValue = "2", description = "Optimizer steps per update.")
        int steps;

        @Option(names = "--policy", defaultValue = "all", description = "Record positions: mistakes or all.")
        String policy;

        @Option(names = "--guard-window", defaultValue = "512",
                description = "Positions per acceptance-guard judgement (0 disables the guard).")
        int guardWindow;

        @Option(names = "--probe", defaultValue = "0",
                description = "After the run, this many new requests per class with training paused (forgetting).")
        int probe;

        @Option(names = "--no-static", description = "Skip the static base draft (halves the serving time).")
        boolean noStatic;

        @Option(names = "--model", description = "Target directory (default models/target).")
        Path model;

        @Option(names = "--draft", description = "Base draft directory (default models/draft).")
        Path draft;

        @Option(names = "--seed", defaultValue = "1")
        long seed;

        @Option(names = "--replot", description = "Only draw the plots again from DIR's alpha.csv and summary.json.")
        boolean replot;

        @Option(names = "--traffic", description = "Serve the requests of this JSON Lines file (prompt or messages, "
                + "optional class; one line a request, in order) instead of the schedule's.")
        Path traffic;

        @Option(names = "--write-repetitive", description = "First write N requests of repetitive traffic (answers "
                + "that repeat earlier ones, or copy their prompt) to the --traffic file.")
        int writeRepetitive;

        @Option(names = "--proposer", defaultValue = "draft",
                description = "draft (the model alone), suffix (a suffix match whenever there is one) or both "
                        + "(per round, what is expected to emit the most tokens per unit of time).")
        String proposer;

        @Override
        public Integer call() throws Exception {
            if (replot) {
                OnlinePlots.replot(out);
                return 0;
            }
            if (!drafts.equals("per-class") && !drafts.equals("shared")) {
                throw new IllegalArgumentException("--drafts must be per-class or shared, got " + drafts);
            }
            if (requests < 1 || k < 1 || maxTokens < 1 || temperature < 0) {
                throw new IllegalArgumentException("--requests, --k and --max-tokens must be positive, --temperature >= 0");
            }
            SuffixProposer.Mode mode = SuffixProposer.Mode.parse(proposer);
            List<Example> file = null;
            if (writeRepetitive > 0) {
                if (traffic == null) {
                    throw new IllegalArgumentException("--write-repetitive needs --traffic FILE to write to");
                }
                TrafficFile.write(traffic, RepetitiveTraffic.generate(writeRepetitive, 16, seed));
            }
            if (traffic != null) {
                if (probe > 0) {
                    throw new IllegalArgumentException("--probe draws new requests per class: not with --traffic");
                }
                file = TrafficFile.read(traffic);
                if (file.isEmpty()) {
                    throw new IllegalArgumentException("--traffic " + traffic + " has no requests");
                }
                classes = file.stream().map(OnlineBenchmark.Plan::classOf).distinct().toList();
            } else {
                classes.forEach(Workload::get);
            }
            try (ModelPair models = ModelPair.open(model, draft)) {
                NDManager manager = models.manager();
                TextTokenizer tokenizer = models.tokenizer();
                LlamaModel target = models.target();
                LlamaModel base = models.draft();
                TrainerSettings trainer = TrainerSettings
                        .builder(base.config().vocabSize())
                        .optDivergence(Divergence.parse(loss)).optLearningRate(lr)
                        .optInterval(interval).optReplay(replay).optGuardWindow(guardWindow).optGuardTolerance(0.05)
                        .optSteps(steps).optPolicy(RecordPolicy.parse(policy)).build();
                OnlineBenchmark.Plan plan = new OnlineBenchmark.Plan(
                        TrafficSchedule.Kind.parse(schedule), classes, requests,
                        drafts.equals("per-class"), temperature, k, maxTokens, trainer, probe, !noStatic, seed, file,
                        mode);
                Map<String, Object> summary = new OnlineBenchmark(target, base, tokenizer, plan)
                        .run(out, manager);
                System.out.println(new GsonBuilder().setPrettyPrinting()
                        .serializeSpecialFloatingPointValues().create().toJson(summary.get("classes")));
                System.out.printf(Locale.ROOT, "updates %s, %.1f s, training share %.2f, %.4f s per update; "
                        + "figures in %s%n", summary.get("updates"), (double) summary.get("seconds"),
                        (double) summary.get("training_share"), (double) summary.get("seconds_per_update"), out);
            }
            return 0;
        }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = "Over HTTP against a server it starts: TTFT, time per output token, end-to-end latency and "
                    + "tokens/s for target-only, the static base draft and online drafts (warmed up), at several "
                    + "concurrencies, and online serving with trainers active against paused.")
    static final class Serve implements Callable<Integer> {

        @Option(names = "--concurrency", defaultValue = "1,4,16", split = ",")
        List<Integer> concurrency;

        @Option(names = "--requests", defaultValue = "48", description = "Measured requests per figure.")
        int requests;

        @Option(names = "--warmup", defaultValue = "1200", description = "Requests the online drafts learn from first.")
        int warmup;

        @Option(names = "--max-tokens", defaultValue = "96")
        int maxTokens;

        @Option(names = "--out", required = true, description = "Directory for summary.json, serve.csv and the plots.")
        Path out;

        @Option(names = "--device", defaultValue = "auto", description = "Where the target runs: auto, cpu or gpu.")
        String device;

        @Option(names = "--cost-ratio", defaultValue = "0.1", description = "Draft / target decode time the adaptive "
                + "k starts from (it follows measured costs).")
        double costRatio;

        @Option(names = "--max-draft-tokens", defaultValue = "5", description = "Longest proposal (adaptive k bound).")
        int maxDraftTokens;

        @Option(names = "--model", description = "Target directory (default: the embedded target).")
        Path model;

        @Option(names = "--draft", description = "Base draft directory (default: the embedded draft).")
        Path draft;

        @Option(names = "--modes", defaultValue = "target_only,static,online", split = ",", description = "Modes to "
                + "run, target_only among them (default ${DEFAULT-VALUE}; online trains drafts first, --warmup requests).")
        List<String> modes;

        @Option(names = "--traffic", description = "Serve the requests of this JSON Lines file (prompt or messages; "
                + "one line a request) instead of the held-out prompts: the warm-up its first --warmup lines, every "
                + "mode the lines after them, in order, wrapping.")
        Path traffic;

        @Option(names = "--proposer", description = "The servers' osd.draft.suffix.proposer: draft (the model alone), "
                + "suffix or both (default: as configured).")
        String proposer;

        @Override
        public Integer call() throws Exception {
            if (requests < 1 || warmup < 0 || maxTokens < 1 || concurrency.stream().anyMatch(c -> c < 1)) {
                throw new IllegalArgumentException("--requests, --max-tokens and --concurrency must be >= 1, --warmup >= 0");
            }
            // the warm-up runs at concurrency 4
            int slots = 2 * Math.max(4, concurrency.stream().mapToInt(Integer::intValue).max().orElse(1));
            SuffixProposer.Mode mode = proposer == null ? null : SuffixProposer.Mode.parse(proposer);
            List<Example> file = null;
            if (traffic != null) {
                if (!Files.isRegularFile(traffic)) {
                    throw new IllegalArgumentException("--traffic " + traffic + ": no such file");
                }
                file = TrafficFile.read(traffic);
                if (file.isEmpty()) {
                    throw new IllegalArgumentException("--traffic " + traffic + " has no requests");
                }
            }
            ServingSystem.Settings settings = new ServingSystem.Settings(slots, 16,
                    Duration.ofSeconds(5), costRatio, 1, maxDraftTokens);
            try (ModelPair models = ModelPair.open(model, draft, TargetDevice.resolve(device))) {
                new ServeBenchmark(models, concurrency, requests, warmup, maxTokens, settings, modes, file, mode)
                        .run(out);
            }
            System.out.println("wrote " + out.resolve("summary.json") + ", serve.csv, tpot.png, throughput.png, ttft.png");
            return 0;
        }
    }

    @Command(name = "cluster", mixinStandardHelpOptions = true,
            description = "The cost of crossing nodes: one node against a four-node cluster in this JVM on loopback "
                    + "(same workload over HTTP), new versions' transfer time, requests lost when a node crashes.")
    static final class ClusterBench implements Callable<Integer> {

        @Option(names = "--concurrency", defaultValue = "1,4", split = ",")
        List<Integer> concurrency;

        @Option(names = "--requests", defaultValue = "48", description = "Measured requests per figure.")
        int requests;

        @Option(names = "--warmup", defaultValue = "400", description = "Requests the online drafts learn from first.")
        int warmup;

        @Option(names = "--out", required = true, description = "Directory for summary.json.")
        Path out;

        @Override
        public Integer call() throws Exception {
            if (requests < 3 || warmup < 0 || concurrency.stream().anyMatch(c -> c < 1)) {
                throw new IllegalArgumentException("--requests must be >= 3, --warmup >= 0, --concurrency >= 1");
            }
            ServingSystem.Settings settings = new ServingSystem.Settings(64, 16,
                    Duration.ofSeconds(2), 0.1, 1, 5);
            try (ModelPair models = ModelPair.open(null, null)) {
                new ClusterBenchmark(models, concurrency, requests, warmup, 96, settings).run(out);
            }
            System.out.println("wrote " + out.resolve("summary.json"));
            return 0;
        }
    }

    @Command(name = "peers", mixinStandardHelpOptions = true,
            description = "OSD target-only against llama.cpp (npm node-llama-cpp, prebuilt CPU binary) on the same "
                    + "checkpoint converted to GGUF (F16 and F32; BF16 for a bfloat16 checkpoint): greedy tokens compared, time per output token and "
                    + "time to first token measured interleaved, 1 thread each. Writes DIR/peers.csv and summary.json.")
    static final class Peers implements Callable<Integer> {

        @Option(names = "--out", defaultValue = "bench-out/peers", description = "Output directory (default ${DEFAULT-VALUE}).")
        Path out;

        @Option(names = "--tokens", defaultValue = "128", description = "Tokens per decode, EOS not stopping it.")
        int tokens;

        @Option(names = "--prompts", defaultValue = "8", description = "Held-out prompts, the classes in turn.")
        int prompts;

        @Option(names = "--repeats", defaultValue = "3", description = "Timed passes over the prompts.")
        int repeats;

        @Option(names = "--warmup", defaultValue = "4", description = "Untimed decodes per engine first.")
        int warmup;

        @Option(names = "--threads", defaultValue = "1", description = "llama.cpp threads (OSD's: OSD_THREADS).")
        int threads;

        @Option(names = "--cache", description = "Where npm installs node-llama-cpp (default $XDG_CACHE_HOME/osd/peers "
                + "or ~/.cache/osd/peers).")
        Path cache;

        @Option(names = "--model", description = "Target directory (default models/target).")
        Path model;

        @Option(names = "--draft", description = "Draft directory, converted and compared too (default models/draft "
                + "when no --model is given).")
        Path draft;

        @Option(names = "--gguf", split = ",", description = "GGUF tensor types for llama.cpp: F16, BF16, F32 (default "
                + "BF16 for a bfloat16 checkpoint, else F16,F32).")
        List<GgufWriter.TensorType> gguf;

        @Override
        public Integer call() throws Exception {
            if (tokens < 2 || prompts < 1 || repeats < 1 || warmup < 0 || threads < 1) {
                throw new IllegalArgumentException("--tokens must be >= 2, --prompts, --repeats and --threads >= 1, "
                        + "--warmup >= 0");
            }
            Path target = model != null ? model : Osd.embedded("target");
            if (target == null) {
                throw new IllegalArgumentException("no --model given and no embedded target under " + Osd.modelsHome());
            }
            int context = LlamaConfig.read(target).maxPositionEmbeddings();
            if (tokens + 2 > context) {
                throw new IllegalArgumentException("--tokens " + tokens + " leaves no room for a prompt in the context of "
                        + context);
            }
            Path benchDir = Osd.modelsHome().getParent().resolve("bench/peers");
            if (!Files.isRegularFile(benchDir.resolve("decode.mjs"))) {
                throw new IllegalArgumentException("no bench/peers/decode.mjs under " + benchDir.getParent().getParent()
                        + " (run from the repository, or set OSD_HOME)");
            }
            String xdg = System.getenv("XDG_CACHE_HOME");
            Path cacheDir = cache != null ? cache : (xdg != null && !xdg.isEmpty() ? Path.of(xdg)
                    : Path.of(System.getProperty("user.home"), ".cache")).resolve("osd/peers");
            List<GgufWriter.TensorType> types = gguf != null ? List.copyOf(new LinkedHashSet<>(gguf))
                    : LlamaGguf.defaultTypes(target);
            // the embedded draft shares only the embedded target's vocabulary
            Path draftDir = draft != null ? draft : model == null ? Osd.embedded("draft") : null;
            PeersBenchmark.Plan plan = new PeersBenchmark.Plan(target, draftDir,
                    benchDir, cacheDir.toAbsolutePath(), tokens, prompts, repeats, warmup, threads, types);
            new PeersBenchmark(plan, System.out).run(out);
            System.out.println("wrote " + out.resolve("peers.csv") + ", " + out.resolve("summary.json"));
            return 0;
        }
    }

    @Command(name = "spawn", mixinStandardHelpOptions = true,
            description = "Traffic of a kind no generator makes (JSON Lines), interleaved with the embedded classes' "
                    + "traffic, served once with drafts that spawn themselves and once with the shared general draft: "
                    + "token acceptance on the new kind per window of 50 requests, and when the spawn was decided.")
    static final class Spawn implements Callable<Integer> {

        @Option(names = "--traffic", defaultValue = "bench/traffic/travel-desk.jsonl",
                description = "The new kind's requests (JSON Lines: prompt or messages).")
        Path traffic;

        @Option(names = "--requests", defaultValue = "300", description = "Requests of the new kind per mode.")
        int requests;

        @Option(names = "--class-every", defaultValue = "2",
                description = "Requests of the embedded traffic (its classes and general text) before each request of "
                        + "the new kind.")
        int classEvery;

        @Option(names = "--max-tokens", defaultValue = "48")
        int maxTokens;

        @Option(names = "--out", required = true, description = "Directory for summary.json and spawn.csv.")
        Path out;

        @Override
        public Integer call() throws Exception {
            if (requests < 1 || classEvery < 0 || maxTokens < 1) {
                throw new IllegalArgumentException("--requests and --max-tokens must be >= 1, --class-every >= 0");
            }
            if (!Files.exists(traffic) && !traffic.isAbsolute() && System.getenv("OSD_HOME") != null) {
                traffic = Path.of(System.getenv("OSD_HOME")).resolve(traffic); // the default, from any directory
            }
            List<Example> newKind = SpawnBenchmark.read(traffic, requests);
            try (ModelPair models = ModelPair.open(null, null)) {
                Map<String, Object> s = new SpawnBenchmark(models, newKind, classEvery, maxTokens).run(out);
                System.out.println("decision: " + s.get("decision"));
                System.out.printf(Locale.ROOT, "new kind, last %d requests: alpha spawn %.3f, shared %.3f (gain %+.3f)%n",
                        SpawnBenchmark.WINDOW, (double) s.get("alpha_last_window_spawn"),
                        (double) s.get("alpha_last_window_shared"), (double) s.get("alpha_gain_last_window"));
            }
            System.out.println("wrote " + out.resolve("summary.json") + " and spawn.csv");
            return 0;
        }
    }
}
