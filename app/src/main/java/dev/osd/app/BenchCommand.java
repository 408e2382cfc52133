package dev.osd.app;

import ai.djl.ndarray.NDManager;
import dev.osd.engine.EngineBenchmark;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code osd bench ...}: the benchmarks, each a subcommand. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks.",
        subcommands = {BenchCommand.Engine.class, BenchCommand.Models.class})
final class BenchCommand implements Runnable {

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    @Command(name = "engine", mixinStandardHelpOptions = true,
            description = "Forward cost of ~0.5M, 5M and 25M-parameter random models: decode, verification, "
                    + "batch of 8, ops per layer, cost ratio.")
    static final class Engine implements Callable<Integer> {

        @Option(names = "--k", defaultValue = "4", description = "Proposal length; verification scores k+1 tokens.")
        int k;

        @Option(names = "--context", defaultValue = "128", description = "Tokens already in each cache.")
        int context;

        @Option(names = "--vocab", defaultValue = "2048", description = "Vocabulary size of the benchmarked models.")
        int vocab;

        @Option(names = "--seconds", defaultValue = "2", description = "Measuring time per figure.")
        double seconds;

        @Override
        public Integer call() throws IOException {
            EngineBenchmark bench = new EngineBenchmark(k, context, seconds);
            List<EngineBenchmark.Figures> figures = new ArrayList<>();
            System.out.println("intra-op threads: " + System.getProperty("ai.djl.pytorch.num_threads", "default"));
            try (NDManager manager = NDManager.newBaseManager()) {
                for (EngineBenchmark.Size size : EngineBenchmark.defaultSizes(vocab)) {
                    figures.add(bench.measure(size, manager));
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
        java.nio.file.Path model;

        @Option(names = "--draft", description = "Draft directory (default models/draft).")
        java.nio.file.Path draft;

        @Option(names = "--prompts", defaultValue = "50", description = "Held-out prompts per class.")
        int prompts;

        @Option(names = "--k", defaultValue = "5", description = "Proposal length.")
        int k;

        @Option(names = "--seed", defaultValue = "7")
        long seed;

        @Option(names = "--out", description = "Also write the figures as JSON here.")
        java.nio.file.Path out;

        @Override
        public Integer call() throws IOException {
            java.nio.file.Path targetDir = model != null ? model : Osd.embedded("target");
            java.nio.file.Path draftDir = draft != null ? draft : Osd.embedded("draft");
            if (targetDir == null || draftDir == null) {
                throw new IllegalArgumentException("need a target and a draft (--model, --draft or models/)");
            }
            try (NDManager manager = NDManager.newBaseManager();
                    dev.osd.engine.TextTokenizer tokenizer = dev.osd.engine.TextTokenizer.load(targetDir);
                    dev.osd.engine.LlamaModel target = dev.osd.engine.LlamaModel.load(targetDir, manager);
                    dev.osd.engine.LlamaModel draftModel = dev.osd.engine.LlamaModel.load(draftDir, manager)) {
                ModelsBenchmark bench = new ModelsBenchmark(target, draftModel, tokenizer, k);
                List<ModelsBenchmark.ClassFigures> figures = new ArrayList<>();
                System.out.printf(java.util.Locale.ROOT, "%-8s %7s %11s %11s %10s %10s %10s%n", "class", "prompts",
                        "target loss", "exact match", "draft loss", "alpha T=0", "alpha T=1");
                for (dev.osd.workload.QueryClass c : ModelsBenchmark.allClasses()) {
                    ModelsBenchmark.ClassFigures f = bench.measure(c, prompts, seed);
                    figures.add(f);
                    System.out.printf(java.util.Locale.ROOT, "%-8s %7d %11.3f %11.2f %10.3f %10.3f %10.3f%n",
                            f.queryClass(), f.prompts(), f.targetLoss(), f.exactMatch(), f.draftLoss(),
                            f.alphaGreedy(), f.alphaSampled());
                }
                double draftMs = ModelsBenchmark.decodeMillis(draftModel);
                double targetMs = ModelsBenchmark.decodeMillis(target);
                System.out.printf(java.util.Locale.ROOT,
                        "decode at 64 tokens of context: draft %.3f ms, target %.3f ms, cost ratio c = %.3f%n",
                        draftMs, targetMs, draftMs / targetMs);
                System.out.printf(java.util.Locale.ROOT, "parameters: target %d, draft %d (k = %d)%n",
                        target.config().parameterCount(), draftModel.config().parameterCount(), k);
                if (out != null) {
                    java.nio.file.Files.writeString(out, new com.google.gson.GsonBuilder().setPrettyPrinting()
                            .create().toJson(ModelsBenchmark.summary(figures, draftMs, targetMs)));
                }
            }
            return 0;
        }
    }
}
