package dev.osd.app;

import ai.djl.ndarray.NDManager;
import dev.osd.drafts.DraftCheckpointStore;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculationStats;
import dev.osd.engine.SpeculativeDecoder;
import dev.osd.engine.TextTokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code osd generate}: one completion from the command line, with its speculation figures. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate a completion. Prints the text first, then acceptance figures.")
final class GenerateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--prompt", required = true, description = "Prompt text.")
    String prompt;

    @Option(names = "--model", description = "Target model directory (Hugging Face layout). Default: models/target.")
    Path model;

    @Option(names = "--draft", description = "Draft model directory, or a draft's checkpoint store (its newest valid "
            + "version). Default: models/draft when it exists.")
    Path draft;

    @Option(names = "--max-tokens", defaultValue = "64", description = "Most tokens to generate (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 is greedy (default ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1", description = "Nucleus sampling mass (default ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--top-k", defaultValue = "0", description = "Keep the k likeliest tokens; 0 keeps all.")
    int topK;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--num-draft-tokens", defaultValue = "4", description = "Proposal length k (default ${DEFAULT-VALUE}).")
    int numDraftTokens;

    @Option(names = "--no-speculation", description = "Target-only decoding.")
    boolean noSpeculation;

    @Option(names = "--stop", description = "Stop string (repeatable).")
    List<String> stop = new ArrayList<>();

    @Option(names = "--ignore-eos", description = "Keep generating past the end-of-sequence token.")
    boolean ignoreEos;

    @Override
    public Integer call() throws IOException {
        ModelPair.requireDirectory("--model", model);
        ModelPair.requireDirectory("--draft", draft);
        Path targetDir = model != null ? model : Osd.embedded("target");
        if (targetDir == null) {
            throw new ParameterException(spec.commandLine(), "no --model given and no embedded target under "
                    + Osd.modelsHome().resolve("target"));
        }
        Path draftDir = noSpeculation ? null : draft != null ? draft : Osd.embedded("draft");
        SamplingParams sampling;
        try {
            sampling = new SamplingParams(temperature, topK, topP, seed);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        try (NDManager manager = NDManager.newBaseManager();
                TextTokenizer tokenizer = TextTokenizer.load(targetDir)) {
            LlamaModel target = LlamaModel.load(targetDir, manager);
            LlamaModel draftModel = draftDir == null ? null : loadDraft(draftDir, manager);
            int[] prompt = Prompts.encode(tokenizer, target.config(), this.prompt);
            int positions = Math.min(target.config().maxPositionEmbeddings(), prompt.length + maxTokens + 1);
            if (prompt.length + 1 > target.config().maxPositionEmbeddings()) {
                throw new ParameterException(spec.commandLine(), "prompt of " + prompt.length
                        + " tokens does not fit the context of " + target.config().maxPositionEmbeddings());
            }
            try (KvCachePool targetPool = target.newCachePool(1, positions);
                    KvCachePool draftPool = draftModel == null ? null : draftModel.newCachePool(1,
                            Math.min(positions, draftModel.config().maxPositionEmbeddings()))) {
                // warm first: the figures printed are a served request's, not a cold JVM's
                target.warmUp(targetPool, 64);
                if (draftModel != null) {
                    draftModel.warmUp(draftPool, 64);
                }
                SpeculativeDecoder decoder = new SpeculativeDecoder(target, targetPool, draftModel, draftPool, tokenizer);
                GenerationResult r = decoder.generate(new GenerationRequest(prompt, maxTokens, sampling, stop, ignoreEos,
                        draftModel == null ? 0 : numDraftTokens));
                out.println(r.text());
                out.println(figures(r, draftModel != null));
                out.flush();
            }
        }
        return 0;
    }

    static String figures(GenerationResult r, boolean speculative) {
        SpeculationStats s = r.stats();
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "tokens=%d finish=%s ttft_ms=%.2f tpot_ms=%.3f tokens_per_s=%.1f",
                r.tokens().length, r.finishReason().apiName(), r.firstTokenNanos() / 1e6,
                r.timePerOutputToken() * 1e3, r.tokens().length / (r.totalNanos() / 1e9)));
        if (speculative && s.rounds() > 0) {
            b.append(String.format(Locale.ROOT,
                    " rounds=%d draft_tokens=%d accepted=%d acceptance=%.3f mean_acceptance_length=%.2f"
                            + " expected_acceptance=%.3f per_position=",
                    s.rounds(), s.draftTokens(), s.acceptedTokens(), s.acceptanceRate(), s.meanAcceptanceLength(),
                    s.expectedAcceptance()));
            long[] acc = s.acceptedPerPosition();
            long[] prop = s.proposedPerPosition();
            for (int i = 0; i < acc.length; i++) {
                b.append(i == 0 ? "[" : ",").append(String.format(Locale.ROOT, "%.2f", (double) acc[i] / prop[i]));
            }
            b.append(']');
        } else {
            b.append(" speculation=off");
        }
        if (s.draftFailures() > 0) {
            b.append(" draft_failures=").append(s.draftFailures());
        }
        return b.toString();
    }

    /**
     * A model directory, or a draft's checkpoint store (what online training wrote, e.g. `bench online`'s
     * DIR/drafts/NAME): its newest version that passes its checks.
     */
    static LlamaModel loadDraft(Path dir, NDManager manager) throws IOException {
        if (!DraftCheckpointStore.isStore(dir)) {
            return LlamaModel.load(dir, manager);
        }
        DraftCheckpointStore store = new DraftCheckpointStore(dir,
                dir.getFileName().toString(), Integer.MAX_VALUE);
        DraftCheckpointStore.Stored stored = store.loadNewest(manager).orElseThrow(
                () -> new IllegalArgumentException("no valid draft version in " + dir));
        System.err.printf("draft %s version %d%n", dir, stored.manifest().version());
        return LlamaModel.of(stored.weights());
    }
}
