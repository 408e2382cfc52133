package dev.osd.engine;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Times the serving forward of random models of about 0.5M, 5M and 25M parameters: one-token decode and
 * (k+1)-token verification, one sequence and a batch of 8, the native ops each layer issues, and the draft to
 * target cost ratio c. Random weights cost exactly what trained ones do.
 */
public final class EngineBenchmark {

    /** One benchmarked model size. */
    public record Size(String name, LlamaConfig config) {
    }

    /** Figures of one size; times in milliseconds per forward call. */
    public record Figures(String name, long parameters, double decode1, double verify1, double decode8,
            double verify8, int opsPerLayer) {
    }

    public static List<Size> defaultSizes(int vocab) {
        return List.of(
                new Size("0.5M", new LlamaConfig(128, 352, 1, 4, 2, 1e-5, 10000, vocab, 1024, true, 1, 2)),
                new Size("5M", new LlamaConfig(256, 688, 6, 8, 4, 1e-5, 10000, vocab, 1024, false, 1, 2)),
                new Size("25M", new LlamaConfig(512, 1376, 8, 8, 4, 1e-5, 10000, vocab, 1024, false, 1, 2)));
    }

    private final int k;
    private final int context;
    private final double seconds;

    public EngineBenchmark(int k, int context, double secondsPerFigure) {
        this.k = k;
        this.context = context;
        this.seconds = secondsPerFigure;
    }

    public Figures measure(Size size, NDManager manager) throws IOException {
        try (LlamaModel model = LlamaModel.of(LlamaWeights.random(size.config(), 1, 0.02, manager));
                KvCachePool pool = model.newCachePool(8, context + 64)) {
            List<KvCache> caches = new ArrayList<>();
            SplittableRandom random = new SplittableRandom(1);
            int vocab = size.config().vocabSize();
            for (int i = 0; i < 8; i++) {
                KvCache cache = pool.acquire();
                model.forward(cache, random.ints(context, 0, vocab).toArray(), 1);
                caches.add(cache);
            }
            int[] one = {3};
            int[] verify = random.ints(k + 1, 0, vocab).toArray();
            double[] t = timeInterleaved(List.of(
                    () -> step(model, caches.subList(0, 1), one),
                    () -> step(model, caches.subList(0, 1), verify),
                    () -> step(model, caches, one),
                    () -> step(model, caches, verify)));
            double decode1 = t[0];
            double verify1 = t[1];
            double decode8 = t[2];
            double verify8 = t[3];
            int ops = opsPerLayer(model);
            caches.forEach(KvCache::close);
            return new Figures(size.name(), size.config().parameterCount(), decode1, verify1, decode8, verify8, ops);
        }
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

    /**
     * Native ops that one more layer adds to a one-token decode: PyTorch's profiler counts the top-level ops
     * of a two-layer and a one-layer model of the same shape, and the difference is one layer's.
     */
    private static int opsPerLayer(LlamaModel model) throws IOException {
        LlamaConfig c = model.config();
        NDManager parent = model.weights().manager();
        return countOps(withLayers(c, 2), parent) - countOps(withLayers(c, 1), parent);
    }

    private static int countOps(LlamaConfig config, NDManager parent) throws IOException {
        try (LlamaModel m = LlamaModel.of(LlamaWeights.random(config, 1, 0.02, parent));
                KvCachePool pool = m.newCachePool(1, 64); KvCache cache = pool.acquire()) {
            m.forward(cache, new int[] {1, 2, 3});
            return countOps(m, cache);
        }
    }

    private static LlamaConfig withLayers(LlamaConfig c, int layers) {
        return new LlamaConfig(c.hiddenSize(), c.intermediateSize(), layers, c.numAttentionHeads(),
                c.numKeyValueHeads(), c.rmsNormEps(), c.ropeTheta(), c.vocabSize(), c.maxPositionEmbeddings(),
                c.tieWordEmbeddings(), c.bosTokenId(), c.eosTokenId());
    }

    private static int countOps(LlamaModel model, KvCache cache) throws IOException {
        Path trace = Files.createTempFile("osd-profile", ".json");
        int before = cache.length();
        JniUtils.startProfile(false, false, false);
        model.forward(cache, new int[] {4});
        JniUtils.stopProfile(trace.toString());
        cache.truncate(before);
        JsonElement root = JsonParser.parseString(Files.readString(trace));
        Files.deleteIfExists(trace);
        JsonArray events = root.isJsonArray() ? root.getAsJsonArray()
                : root.getAsJsonObject().getAsJsonArray("traceEvents");
        List<double[]> spans = new ArrayList<>();
        for (JsonElement e : events) {
            JsonObject o = e.getAsJsonObject();
            if (o.has("dur") && o.has("ts") && "X".equals(o.get("ph").getAsString())) {
                spans.add(new double[] {o.get("ts").getAsDouble(), o.get("dur").getAsDouble()});
            }
        }
        spans.sort((a, b) -> a[0] != b[0] ? Double.compare(a[0], b[0]) : Double.compare(b[1], a[1]));
        int topLevel = 0;
        double end = Double.NEGATIVE_INFINITY;
        for (double[] s : spans) {
            if (s[0] >= end) {
                topLevel++;
                end = s[0] + s[1];
            }
        }
        return topLevel;
    }

    /** Prints the table and the cost ratio of the smallest size against the largest. */
    public static void printTable(List<Figures> figures, int k, PrintStream out) {
        out.printf(Locale.ROOT, "%-6s %11s %12s %12s %12s %12s %10s %9s%n", "model", "parameters", "decode ms",
                "verify" + (k + 1) + " ms", "decode x8 ms", "verify" + (k + 1) + "x8 ms", "verify/dec", "ops/layer");
        for (Figures f : figures) {
            out.printf(Locale.ROOT, "%-6s %11d %12.3f %12.3f %12.3f %12.3f %10.2f %9d%n", f.name(), f.parameters(),
                    f.decode1(), f.verify1(), f.decode8(), f.verify8(), f.verify1() / f.decode1(), f.opsPerLayer());
        }
        Figures small = figures.get(0);
        Figures large = figures.get(figures.size() - 1);
        out.printf(Locale.ROOT, "cost ratio c = decode(%s) / decode(%s) = %.3f%n", small.name(), large.name(),
                small.decode1() / large.decode1());
    }
}
