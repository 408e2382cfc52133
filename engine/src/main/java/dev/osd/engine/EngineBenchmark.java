package dev.osd.engine;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Times the serving forwards, CPU (Vector API) and DJL side by side on the same weights: one-token decode,
 * (k+1)-token verification, one sequence and a batch of 8, a 40-token prefill, and the draft to target cost
 * ratio c. Sizes are the embedded checkpoints when given and random models of about 0.5M, 5M and 25M
 * parameters with float16 weights (as the embedded checkpoints store them); random weights cost exactly what
 * trained ones do.
 */
public final class EngineBenchmark {

    /** One benchmarked model: a checkpoint directory, or random weights of a configuration. */
    public record Size(String name, LlamaConfig config, Path dir) {
        public Size(String name, LlamaConfig config) {
            this(name, config, null);
        }
    }

    /** Figures of one size on one backend; times in milliseconds per forward call. */
    public record Figures(String name, ServingBackend backend, long parameters, String dtype, double decode1,
            double verify1, double decode8, double verify8, double prefill40) {
    }

    public static List<Size> defaultSizes(int vocab) {
        return List.of(
                new Size("0.5M", LlamaConfig.builder()
                        .setHiddenSize(128).setIntermediateSize(352).setNumHiddenLayers(1)
                        .setNumAttentionHeads(4).optNumKeyValueHeads(2).setVocabSize(vocab)
                        .optMaxPositionEmbeddings(1024).optTieWordEmbeddings(true).optBosTokenId(1)
                        .optEosTokenId(2).build()),
                new Size("5M", LlamaConfig.builder()
                        .setHiddenSize(256).setIntermediateSize(688).setNumHiddenLayers(6)
                        .setNumAttentionHeads(8).optNumKeyValueHeads(4).setVocabSize(vocab)
                        .optMaxPositionEmbeddings(1024).optBosTokenId(1).optEosTokenId(2).build()),
                new Size("25M", LlamaConfig.builder()
                        .setHiddenSize(512).setIntermediateSize(1376).setNumHiddenLayers(8)
                        .setNumAttentionHeads(8).optNumKeyValueHeads(4).setVocabSize(vocab)
                        .optMaxPositionEmbeddings(1024).optBosTokenId(1).optEosTokenId(2).build()));
    }

    private final int k;
    private final int context;
    private final double seconds;

    public EngineBenchmark(int k, int context, double secondsPerFigure) {
        this.k = k;
        this.context = context;
        this.seconds = secondsPerFigure;
    }

    /** Both backends on the same weights, their workloads interleaved round by round. */
    public List<Figures> measure(Size size, NDManager manager) {
        return measure(size, manager, System.out);
    }

    /**
     * A checkpoint is served as {@code osd serve} serves it: the CPU forward straight from the stored
     * tensors (its load time and the process's resident memory after it are printed to {@code log}); the
     * DJL forward, which needs float32 copies, only for checkpoints of at most {@link #DJL_MAX_PARAMETERS}.
     */
    public List<Figures> measure(Size size, NDManager manager, PrintStream log) {
        List<LlamaModel> loaded = new ArrayList<>();
        LlamaWeights djlWeights = null;
        if (size.dir() != null) {
            if (ServingBackend.vectorApiPresent()) {
                long rssBefore = residentBytes();
                long t0 = System.nanoTime();
                LlamaModel model = LlamaModel.load(size.dir(), manager);
                double loadSeconds = (System.nanoTime() - t0) / 1e9;
                log.printf(Locale.ROOT, "%s: loaded in %.1f s, %s weights, resident %.2f GB (%.2f GB before)%n",
                        size.name(), loadSeconds, model.weightStorage(), residentBytes() / 1e9, rssBefore / 1e9);
                loaded.add(model);
            }
            LlamaConfig config = LlamaConfig.read(size.dir());
            if (config.parameterCount() <= DJL_MAX_PARAMETERS) {
                djlWeights = LlamaWeights.load(size.dir(), manager);
                loaded.add(LlamaModel.of(djlWeights, ServingBackend.DJL));
            } else {
                log.printf(Locale.ROOT, "%s: DJL forward not timed (%d parameters: its float32 copies would "
                        + "take %.1f GB)%n", size.name(), config.parameterCount(), config.parameterCount() * 8 / 1e9);
            }
        } else {
            LlamaWeights weights = float16(LlamaWeights.random(size.config(), 1, 0.02, manager), manager);
            for (ServingBackend backend : ServingBackend.values()) {
                if (backend == ServingBackend.CPU && !ServingBackend.vectorApiPresent()) {
                    continue;
                }
                loaded.add(LlamaModel.of(weights.copy(manager), backend));
            }
            weights.close();
        }
        return time(size, loaded, log);
    }

    /** Checkpoints above this size are timed on the CPU forward only. */
    static final long DJL_MAX_PARAMETERS = 300_000_000L;

    /** VmRSS of this process, from /proc (0 where there is none). */
    public static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    private List<Figures> time(Size size, List<LlamaModel> loaded, PrintStream log) {
        {
            LlamaConfig config = loaded.get(0).config();
            int positions = Math.min(config.maxPositionEmbeddings(), context + 64);
            int ctx = positions - 64;
            List<Figures> out = new ArrayList<>();
            List<Runnable> work = new ArrayList<>();
            List<AutoCloseable> open = new ArrayList<>();
            List<LlamaModel> models = new ArrayList<>();
            for (LlamaModel model : loaded) {
                KvCachePool pool = model.newCachePool(9, positions);
                open.add(pool);
                open.add(model);
                models.add(model);
                List<KvCache> caches = new ArrayList<>();
                SplittableRandom random = new SplittableRandom(1);
                int vocab = config.vocabSize();
                for (int i = 0; i < 8; i++) {
                    KvCache cache = pool.acquire();
                    long t0 = System.nanoTime();
                    model.forward(cache, random.ints(ctx, 0, vocab).toArray(), 1);
                    if (i == 0) {
                        // cold: the first forward of this model, JIT included (what a first request pays)
                        log.printf(Locale.ROOT, "%s %s: prefill of a %d-token context %.0f ms (first forward)%n",
                                size.name(), model.backend().name().toLowerCase(Locale.ROOT), ctx,
                                (System.nanoTime() - t0) / 1e6);
                    }
                    caches.add(cache);
                }
                if (model.backend() == ServingBackend.CPU) {
                    log.printf(Locale.ROOT, "%s cpu: resident %.2f GB with %d caches of %d tokens%n", size.name(),
                            residentBytes() / 1e9, caches.size(), ctx);
                }
                KvCache fresh = pool.acquire();
                int[] one = {3};
                int[] verify = random.ints(k + 1, 0, vocab).toArray();
                int[] prompt = random.ints(40, 0, vocab).toArray();
                work.add(() -> step(model, caches.subList(0, 1), one));
                work.add(() -> step(model, caches.subList(0, 1), verify));
                work.add(() -> step(model, caches, one));
                work.add(() -> step(model, caches, verify));
                work.add(() -> step(model, List.of(fresh), prompt));
            }
            double[] t = timeInterleaved(work);
            for (int m = 0; m < models.size(); m++) {
                LlamaModel model = models.get(m);
                out.add(new Figures(size.name(), model.backend(), config.parameterCount(), model.weightStorage(),
                        t[5 * m], t[5 * m + 1], t[5 * m + 2], t[5 * m + 3], t[5 * m + 4]));
            }
            for (int i = open.size() - 1; i >= 0; i--) {
                try {
                    open.get(i).close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
            return out;
        }
    }

    /** The same weights rounded to float16, as a float16 checkpoint holds them. */
    private static LlamaWeights float16(LlamaWeights weights, NDManager manager) {
        LlamaConfig config = weights.config();
        Map<String, SafeTensors.Tensor> host = weights.toHost();
        weights.close();
        for (SafeTensors.Tensor t : host.values()) {
            float[] v = t.values();
            for (int i = 0; i < v.length; i++) {
                v[i] = SafeTensors.halfToFloat(SafeTensors.floatToHalf(v[i]));
            }
        }
        return LlamaWeights.fromHost(config, host, Path.of("<float16>"), manager);
    }

    private void step(LlamaModel model, List<KvCache> caches, int[] tokens) {
        List<int[]> batch = new ArrayList<>();
        int[] keep = new int[caches.size()];
        for (int i = 0; i < caches.size(); i++) {
            batch.add(tokens);
            keep[i] = tokens.length;
        }
        int before = caches.get(0).length();
        model.forward(caches, batch, keep);
        for (KvCache c : caches) {
            c.truncate(before);
        }
    }

    /**
     * Medians of interleaved timings: after a second of warm-up (the JIT compiles on the same two cores),
     * each round times every workload once over a slice of the budget, so that machine noise hits all of
     * them alike and their ratios stay meaningful.
     */
    private double[] timeInterleaved(List<Runnable> work) {
        int n = work.size();
        double[] estimate = new double[n];
        for (int w = 0; w < n; w++) {
            long start = System.nanoTime();
            int calls = 0;
            while (System.nanoTime() - start < 0.5e9 || calls < 5) {
                work.get(w).run();
                calls++;
            }
            estimate[w] = (System.nanoTime() - start) / 1e6 / calls;
        }
        int rounds = 11;
        double[][] samples = new double[n][rounds];
        for (int r = 0; r < rounds; r++) {
            for (int w = 0; w < n; w++) {
                int perRound = Math.max(1, (int) (seconds * 1000 / rounds / estimate[w]));
                long t0 = System.nanoTime();
                for (int i = 0; i < perRound; i++) {
                    work.get(w).run();
                }
                samples[w][r] = (System.nanoTime() - t0) / 1e6 / perRound;
            }
        }
        double[] medians = new double[n];
        for (int w = 0; w < n; w++) {
            Arrays.sort(samples[w]);
            medians[w] = samples[w][rounds / 2];
        }
        return medians;
    }

    /** Prints the table, each size's CPU row next to its DJL row, and the cost ratio of the extremes. */
    public static void printTable(List<Figures> figures, int k, PrintStream out) {
        out.printf(Locale.ROOT, "%-8s %-4s %-5s %11s %10s %10s %11s %11s %10s %10s%n", "model", "fwd", "dtype",
                "parameters", "decode ms", "verify" + (k + 1) + " ms", "decode x8", "verify" + (k + 1) + "x8",
                "prefill40", "verify/dec");
        for (Figures f : figures) {
            out.printf(Locale.ROOT, "%-8s %-4s %-5s %11d %10.3f %10.3f %11.3f %11.3f %10.3f %10.2f%n", f.name(),
                    f.backend().name().toLowerCase(Locale.ROOT), f.dtype(), f.parameters(), f.decode1(), f.verify1(),
                    f.decode8(), f.verify8(), f.prefill40(), f.verify1() / f.decode1());
        }
        for (ServingBackend backend : ServingBackend.values()) {
            List<Figures> of = figures.stream().filter(f -> f.backend() == backend).toList();
            if (of.size() > 1) {
                Figures small = of.stream().min((a, b) -> Long.compare(a.parameters(), b.parameters())).get();
                Figures large = of.stream().max((a, b) -> Long.compare(a.parameters(), b.parameters())).get();
                out.printf(Locale.ROOT, "%s: cost ratio c = decode(%s) / decode(%s) = %.3f%n",
                        backend.name().toLowerCase(Locale.ROOT), small.name(), large.name(),
                        small.decode1() / large.decode1());
            }
        }
    }
}
