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
        subcommands = {BenchCommand.Engine.class})
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
}
