package dev.osd.app;

import ai.djl.ndarray.NDManager;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.engine.LanguageModelTrainer;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaWeights;
import dev.osd.engine.SafeTensors;
import dev.osd.engine.TextTokenizer;
import dev.osd.workload.QueryClass;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;

/**
 * One resumable training run: a run directory with a checkpoint (float32 weights, optimizer moments and the
 * step), a loss log and its plot, and an export of the current weights in half precision into the model
 * directory after every checkpoint. Interrupted, it resumes at its last checkpoint and sees the same batches
 * it would have seen.
 */
final class TrainingRun {

    /** What to train. */
    record Plan(String role, LlamaConfig config, List<QueryClass> trainClasses, List<QueryClass> evalClasses,
            int steps, int batchSize, int maxLength, double learningRate, double weightDecay, int warmup,
            int checkpointEvery, int evalEvery, long seed) {
    }

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

    private final Plan plan;
    private final Path runDir;
    private final Path modelDir;
    private final Path tokenizerFile;
    private final PrintStream log;

    TrainingRun(Plan plan, Path runDir, Path modelDir, Path tokenizerFile, PrintStream log) {
        this.plan = plan;
        this.runDir = runDir;
        this.modelDir = modelDir;
        this.tokenizerFile = tokenizerFile;
        this.log = log;
    }

    /** Learning rate at a step: linear warm-up, then cosine decay to a tenth. */
    double learningRate(long step) {
        if (step < plan.warmup()) {
            return plan.learningRate() * (step + 1) / plan.warmup();
        }
        double progress = Math.min(1.0, (double) (step - plan.warmup()) / Math.max(1, plan.steps() - plan.warmup()));
        return plan.learningRate() * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }

    /** Trains until the planned step or the time limit; returns the step reached. */
    long run(double minutes) throws IOException {
        return run(minutes, Long.MAX_VALUE);
    }

    /** As {@link #run(double)}, also stopping (with a checkpoint) once {@code stopAt} steps are done. */
    long run(double minutes, long stopAt) throws IOException {
        Files.createDirectories(runDir);
        Path checkpoint = runDir.resolve("checkpoint");
        try (NDManager manager = NDManager.newBaseManager(); TextTokenizer tokenizer = TextTokenizer.load(tokenizerFile);
                LlamaWeights initial = LlamaWeights.random(plan.config(), plan.seed(), 0.02, manager);
                LanguageModelTrainer trainer = new LanguageModelTrainer(initial, plan.weightDecay())) {
            long step = 0;
            long tokens = 0;
            double seconds = 0;
            if (Files.isDirectory(checkpoint)) {
                JsonObject state = JsonParser.parseString(Files.readString(checkpoint.resolve("state.json")))
                        .getAsJsonObject();
                LlamaConfig saved = LlamaConfig.read(checkpoint);
                if (!saved.equals(plan.config())) {
                    throw new IllegalArgumentException("checkpoint in " + checkpoint + " has another configuration ("
                            + saved + "); remove it or train into another --run-dir");
                }
                trainer.restore(SafeTensors.read(checkpoint.resolve(LlamaWeights.WEIGHTS_FILE)),
                        SafeTensors.read(checkpoint.resolve("optimizer.safetensors")));
                step = state.get("step").getAsLong();
                tokens = state.get("tokens").getAsLong();
                seconds = state.get("seconds").getAsDouble();
                log.printf("resuming %s at step %d (%d tokens, %.0f s so far)%n", plan.role(), step, tokens, seconds);
            } else {
                Files.deleteIfExists(runDir.resolve("loss.csv"));
            }
            TrainingData data = new TrainingData(plan.trainClasses(), tokenizer, plan.batchSize(), plan.maxLength(),
                    plan.seed(), plan.config().bosTokenId(), plan.config().eosTokenId());
            long deadline = System.nanoTime() + (long) (minutes * 60e9);
            long startStep = step;
            double lossSum = 0;
            int lossCount = 0;
            int skipped = 0;
            long started = System.nanoTime();
            double secondsAtStart = seconds;
            try (ProgressBar bar = Progress.bar("train " + plan.role(), plan.steps(), log)
                    .startsFrom(step, Duration.ZERO).build()) {
                while (step < plan.steps() && step < stopAt && System.nanoTime() < deadline) {
                    List<int[]> batch = data.batch(step);
                    for (int[] s : batch) {
                        tokens += s.length - 1;
                    }
                    double loss = trainer.step(batch, learningRate(step), 1.0);
                    if (!Double.isFinite(loss) || !Double.isFinite(trainer.lastGradientNorm())) {
                        skipped++;
                        log.printf("%nstep %d: loss %s, gradient norm %s: update skipped (%d so far)%n", step, loss,
                                trainer.lastGradientNorm(), skipped);
                        if (skipped > 20) {
                            throw new IllegalStateException("more than 20 non-finite steps; lower the learning rate");
                        }
                    } else {
                        lossSum += loss;
                        lossCount++;
                    }
                    step++;
                    seconds = secondsAtStart + (System.nanoTime() - started) / 1e9;
                    bar.stepTo(step);
                    bar.setExtraMessage(String.format(Locale.ROOT, " loss %.3f  %.0f tok/s", loss,
                            (tokens) / Math.max(seconds, 1e-9)));
                    boolean last = step == plan.steps() || step == stopAt || System.nanoTime() >= deadline;
                    if (step % plan.evalEvery() == 0 || last) {
                        logLosses(trainer, data, step, tokens, seconds, lossSum / Math.max(1, lossCount));
                        lossSum = 0;
                        lossCount = 0;
                    }
                    if (step % plan.checkpointEvery() == 0 || last) {
                        saveCheckpoint(trainer, checkpoint, step, tokens, seconds);
                        export(trainer, manager);
                    }
                }
            }
            log.printf("%s: step %d of %d, %d tokens, %.0f s (%d steps this run)%n", plan.role(), step, plan.steps(),
                    tokens, seconds, step - startStep);
            return step;
        }
    }

    private void logLosses(LanguageModelTrainer trainer, TrainingData data, long step, long tokens, double seconds,
            double trainLoss) throws IOException {
        Path csv = runDir.resolve("loss.csv");
        StringBuilder header = new StringBuilder("step,tokens,seconds,lr,train_loss");
        StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%d,%d,%.1f,%.6f,%.5f", step, tokens, seconds,
                learningRate(step), trainLoss));
        for (QueryClass c : plan.evalClasses()) {
            header.append(",heldout_").append(c.name());
            row.append(String.format(Locale.ROOT, ",%.5f", trainer.evaluate(data.heldOut(c, 32))));
        }
        if (!Files.exists(csv)) {
            Files.writeString(csv, header + "\n", StandardCharsets.UTF_8);
        }
        Files.writeString(csv, row + "\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        LossPlot.write(csv, runDir.resolve("loss.png"), plan.role());
    }

    private void saveCheckpoint(LanguageModelTrainer trainer, Path checkpoint, long step, long tokens, double seconds)
            throws IOException {
        Path tmp = runDir.resolve("checkpoint.tmp");
        deleteTree(tmp);
        Files.createDirectories(tmp);
        plan.config().write(tmp);
        SafeTensors.write(tmp.resolve(LlamaWeights.WEIGHTS_FILE), trainer.weights().toHost(), SafeTensors.DType.F32);
        SafeTensors.write(tmp.resolve("optimizer.safetensors"), trainer.optimizer().state(), SafeTensors.DType.F32);
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("step", step);
        state.put("tokens", tokens);
        state.put("seconds", seconds);
        state.put("seed", plan.seed());
        state.put("planned_steps", plan.steps());
        Files.writeString(tmp.resolve("state.json"), GSON.toJson(state));
        Path old = runDir.resolve("checkpoint.old");
        deleteTree(old);
        if (Files.exists(checkpoint)) {
            Files.move(checkpoint, old, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(tmp, checkpoint, StandardCopyOption.ATOMIC_MOVE);
        deleteTree(old);
    }

    /** The current weights as a shipped model: half precision, with the shared tokenizer. */
    private void export(LanguageModelTrainer trainer, NDManager manager) throws IOException {
        try (LlamaWeights snapshot = trainer.snapshot(manager)) {
            snapshot.save(modelDir, SafeTensors.DType.F16);
        }
        Files.copy(tokenizerFile, modelDir.resolve(TextTokenizer.FILE_NAME), StandardCopyOption.REPLACE_EXISTING);
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            List<Path> all = new ArrayList<>(paths.sorted(Comparator.reverseOrder()).toList());
            for (Path p : all) {
                Files.delete(p);
            }
        }
    }
}
