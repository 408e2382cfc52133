package dev.osd.app;

import dev.osd.engine.LlamaConfig;
import dev.osd.workload.QueryClass;
import dev.osd.workload.TokenizerTrainer;
import dev.osd.workload.Workload;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code osd train tokenizer|target|draft}: builds the embedded default models. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train the embedded tokenizer, target and base draft (resumable, deterministic by seed).",
        subcommands = {TrainCommand.Tokenizer.class, TrainCommand.Target.class, TrainCommand.Draft.class})
final class TrainCommand implements Runnable {

    static final int VOCAB = 2048;

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    static Path tokenizerFile() {
        return Osd.modelsHome().resolve("tokenizer.json");
    }

    /** The embedded target: about 11M parameters, grouped-query attention. */
    static LlamaConfig targetConfig() {
        return LlamaConfig.builder()
                .setHiddenSize(384).setIntermediateSize(1024).setNumHiddenLayers(6).setNumAttentionHeads(6)
                .optNumKeyValueHeads(2).setVocabSize(VOCAB).optMaxPositionEmbeddings(256).optBosTokenId(1)
                .optEosTokenId(0).build();
    }

    /** The embedded base draft: about 0.45M parameters, one layer, tied embeddings. */
    static LlamaConfig draftConfig() {
        return LlamaConfig.builder()
                .setHiddenSize(128).setIntermediateSize(352).setNumHiddenLayers(1).setNumAttentionHeads(4)
                .optNumKeyValueHeads(2).setVocabSize(VOCAB).optMaxPositionEmbeddings(256)
                .optTieWordEmbeddings(true).optBosTokenId(1).optEosTokenId(0).build();
    }

    @Command(name = "tokenizer", mixinStandardHelpOptions = true,
            description = "Learn the byte-level BPE tokenizer from the workload's training split.")
    static final class Tokenizer implements Callable<Integer> {
        @Option(names = "--vocab", defaultValue = "" + VOCAB, description = "Vocabulary size (default ${DEFAULT-VALUE}).")
        int vocab;

        @Option(names = "--per-class", defaultValue = "3000", description = "Examples per class in the corpus.")
        int perClass;

        @Option(names = "--seed", defaultValue = "1")
        long seed;

        @Option(names = "--out", description = "Output file (default models/tokenizer.json).")
        Path out;

        @Override
        public Integer call() throws Exception {
            Path file = out != null ? out : tokenizerFile();
            TokenizerTrainer.train(TokenizerTrainer.embeddedCorpus(perClass, seed), vocab, file);
            System.out.println("wrote " + file);
            return 0;
        }
    }

    abstract static class ModelTraining implements Callable<Integer> {
        @Option(names = "--steps", description = "Optimizer steps in the whole run.")
        Integer steps;

        @Option(names = "--batch", defaultValue = "32", description = "Sequences per step (default ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--lr", description = "Peak learning rate.")
        Double lr;

        @Option(names = "--seed", defaultValue = "1", description = "Seed of weights and data (default ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--minutes", defaultValue = "100000",
                description = "Stop (with a checkpoint) after this many minutes; run again to resume.")
        double minutes;

        @Option(names = "--run-dir", description = "Checkpoints, loss.csv, loss.png (default runs/<role>).")
        Path runDir;

        @Option(names = "--out", description = "Exported model directory (default models/<role>).")
        Path out;

        abstract String role();

        abstract LlamaConfig config();

        abstract List<QueryClass> trainClasses();

        abstract int defaultSteps();

        abstract double defaultLr();

        @Override
        public Integer call() throws Exception {
            Path tokenizer = tokenizerFile();
            if (!Files.isRegularFile(tokenizer)) {
                System.err.println("building the tokenizer first: " + tokenizer);
                TokenizerTrainer.train(TokenizerTrainer.embeddedCorpus(3000, 1), VOCAB, tokenizer);
            }
            List<QueryClass> eval = new ArrayList<>(Workload.CLASSES);
            eval.add(Workload.GENERAL);
            int total = steps != null ? steps : defaultSteps();
            TrainingRun.Plan plan = new TrainingRun.Plan(role(), config(), trainClasses(), eval, total, batch, 128,
                    lr != null ? lr : defaultLr(), 0.1, Math.min(100, total / 10 + 1), 100, 100, seed);
            Path run = runDir != null ? runDir : Osd.modelsHome().getParent().resolve("runs").resolve(role());
            Path model = out != null ? out : Osd.modelsHome().resolve(role());
            System.err.printf("training %s: %d parameters, %d steps of %d sequences -> %s%n", role(),
                    config().parameterCount(), total, batch, model);
            new TrainingRun(plan, run, model, tokenizer, System.err).run(minutes);
            return 0;
        }
    }

    @Command(name = "target", mixinStandardHelpOptions = true,
            description = "Train the target on every query class and general text.")
    static final class Target extends ModelTraining {
        String role() {
            return "target";
        }

        LlamaConfig config() {
            return targetConfig();
        }

        List<QueryClass> trainClasses() {
            List<QueryClass> all = new ArrayList<>(Workload.CLASSES);
            all.add(Workload.GENERAL);
            return all;
        }

        int defaultSteps() {
            return 3000;
        }

        double defaultLr() {
            return 1e-3;
        }
    }

    @Command(name = "draft", mixinStandardHelpOptions = true,
            description = "Train the base draft on general text, generic web snippets and the classes' prompts, "
                    + "never on their answers.")
    static final class Draft extends ModelTraining {
        @Option(names = "--layers", defaultValue = "1", description = "Decoder layers (default ${DEFAULT-VALUE}).")
        int layers;

        String role() {
            return "draft";
        }

        LlamaConfig config() {
            return draftConfig().toBuilder().setNumHiddenLayers(layers).build();
        }

        /** General text, generic web snippets, and the classes' prompts without their answers. */
        List<QueryClass> trainClasses() {
            List<QueryClass> mix = new ArrayList<>();
            mix.add(Workload.GENERAL);
            mix.add(Workload.WEB);
            for (QueryClass c : Workload.CLASSES) {
                mix.add(Workload.promptsOnly(c));
            }
            mix.add(Workload.WEB);
            return mix;
        }

        int defaultSteps() {
            return 1000;
        }

        double defaultLr() {
            return 2e-3;
        }
    }
}
