package dev.osd.app;

import ai.djl.ndarray.NDManager;
import com.google.gson.GsonBuilder;
import dev.osd.app.GgufWriter.TensorType;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculativeDecoder;
import dev.osd.engine.TextTokenizer;
import dev.osd.workload.QueryClass;
import dev.osd.workload.Workload;
import java.io.Closeable;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.IntSummaryStatistics;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * OSD against llama.cpp on the same checkpoint, prompts and token ids, one thread each: the checkpoints
 * converted to GGUF (F16 and F32, or BF16 for a BF16 checkpoint), greedy output compared token for token, and time per output token and
 * time to first token measured interleaved (for each prompt OSD, llama.cpp F16, llama.cpp F32 in turn) so
 * that a change in the machine's load falls on every engine alike. OSD decodes in this JVM after a warm-up,
 * target only; llama.cpp decodes in node processes started once. Writes DIR/peers.csv and DIR/summary.json.
 */
final class PeersBenchmark {

    /** What a run measures. */
    record Plan(Path target, Path draft, Path benchDir, Path cache, int tokens, int prompts, int repeats,
            int warmup, int threads, List<TensorType> types) {
    }

    /** One timed decode. */
    record Row(String engine, int repeat, int prompt, String queryClass, int promptTokens, int tokens,
            double ttftMillis, double tpotMillis, int firstDifference, int differentToken) {
    }

    static final String OSD = "osd target-only";
    static final String LLAMA_F16 = engine(TensorType.F16);
    static final String LLAMA_F32 = engine(TensorType.F32);

    static String engine(TensorType type) {
        return "llama.cpp " + type;
    }

    private final Plan plan;
    private final PrintStream log;

    PeersBenchmark(Plan plan, PrintStream log) {
        this.plan = plan;
        this.log = log;
    }

    Map<String, Object> run(Path out) throws IOException, InterruptedException {
        Files.createDirectories(out.resolve("gguf"));
        Path modules = LlamaCppPeer.install(plan.benchDir, plan.cache);
        Map<String, Path> gguf = new LinkedHashMap<>();
        for (String role : List.of("target", "draft")) {
            Path dir = role.equals("target") ? plan.target : plan.draft;
            if (dir == null) {
                continue;
            }
            for (TensorType type : plan.types) {
                Path file = out.resolve("gguf").resolve(role + "-" + type.name().toLowerCase(Locale.ROOT) + ".gguf");
                LlamaGguf.convert(dir, file, type);
                gguf.put(role + "-" + type, file);
            }
        }
        log.println("converted to GGUF: " + gguf.values());
        Path script = plan.benchDir.resolve("decode.mjs");
        List<Row> rows = new ArrayList<>();
        Map<String, Object> summary = new LinkedHashMap<>();
        try (NDManager manager = NDManager.newBaseManager();
                TextTokenizer tokenizer = TextTokenizer.load(plan.target)) {
            LlamaModel target = LlamaModel.load(plan.target, manager);
            int positions = target.config().maxPositionEmbeddings();
            List<int[]> prompts = new ArrayList<>();
            List<String> classes = new ArrayList<>();
            for (int i = 0; i < plan.prompts; i++) {
                QueryClass c = Workload.CLASSES.get(i % Workload.CLASSES.size());
                int[] ids = Prompts.encode(tokenizer, target.config(),
                        Workload.example(c, Workload.Split.HELD_OUT, i / Workload.CLASSES.size(), 23).prompt());
                if (ids.length + plan.tokens > positions) {
                    throw new IllegalArgumentException("--tokens " + plan.tokens + " after a prompt of " + ids.length
                            + " tokens does not fit the context of " + positions);
                }
                prompts.add(ids);
                classes.add(c.name());
            }
            // both sides get a context just large enough (llama.cpp allocates all of its context up front)
            int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(0) + plan.tokens;
            int context = Math.min(positions, (longest + 63) / 64 * 64);
            Map<String, int[]> osdTokens = new LinkedHashMap<>();
            Map<String, LlamaCppPeer> peers = new LinkedHashMap<>();
            try (KvCachePool pool = target.newCachePool(1, context);
                    Closeable closePeers = () -> closeAll(peers.values())) {
                for (TensorType type : plan.types) {
                    peers.put(engine(type), LlamaCppPeer.start(script, modules, gguf.get("target-" + type), plan.threads,
                            context, out.resolve("llama-target-" + type.name().toLowerCase(Locale.ROOT) + ".log")));
                }
                // no tokenizer: neither side turns tokens into text while it is timed
                SpeculativeDecoder osd = SpeculativeDecoder.targetOnly(target, pool, null);
                // a fresh JVM runs its first tokens well below speed (JIT, first-touch allocations)
                for (int w = 0; w < plan.warmup; w++) {
                    int[] p = prompts.get(w % prompts.size());
                    osd.generate(request(p));
                    for (LlamaCppPeer peer : peers.values()) {
                        peer.decode("warmup-" + w, p, plan.tokens);
                    }
                }
                log.printf(Locale.ROOT, "warmed up (%d decodes each); timing %d prompts x %d tokens, %d repeats%n",
                        plan.warmup, plan.prompts, plan.tokens, plan.repeats);
                for (int r = 0; r < plan.repeats; r++) {
                    for (int i = 0; i < prompts.size(); i++) {
                        int[] p = prompts.get(i);
                        GenerationResult o = osd.generate(request(p));
                        rows.add(new Row(OSD, r, i, classes.get(i), p.length, o.tokens().length,
                                o.firstTokenNanos() / 1e6, o.timePerOutputToken() * 1e3, -1, -1));
                        osdTokens.put(r + "/" + i, o.tokens());
                        for (Map.Entry<String, LlamaCppPeer> peer : peers.entrySet()) {
                            LlamaCppPeer.Decode d = peer.getValue().decode("r" + r + "p" + i, p, plan.tokens);
                            int at = firstDifference(o.tokens(), d.tokens());
                            rows.add(new Row(peer.getKey(), r, i, classes.get(i), p.length,
                                    d.tokens().length, d.ttftMillis(), d.tpotMillis(), at,
                                    at >= 0 && at < d.tokens().length ? d.tokens()[at] : -1));
                        }
                    }
                }
                summary.put("llama_cpp", peers.values().iterator().next().describe());
                summary.put("differences", differences(rows, osdTokens, prompts, target, pool));
            }
            if (plan.draft != null) {
                summary.put("draft_greedy_equal", draftEquality(prompts, manager, script, modules, gguf, context, out));
            }
            IntSummaryStatistics lengths = prompts.stream().mapToInt(p -> p.length).summaryStatistics();
            Map<String, Object> promptTokens = new LinkedHashMap<>();
            promptTokens.put("min", lengths.getMin());
            promptTokens.put("mean", lengths.getAverage());
            promptTokens.put("max", lengths.getMax());
            summary.put("prompt_tokens", promptTokens);
        }
        summary.putAll(summarize(rows));
        summary.put("setup", setup(out));
        writeCsv(out.resolve("peers.csv"), rows);
        Files.writeString(out.resolve("summary.json"), new GsonBuilder().setPrettyPrinting()
                .serializeSpecialFloatingPointValues().create().toJson(summary));
        print(summary);
        return summary;
    }

    private GenerationRequest request(int[] prompt) {
        // EOS does not end either side: both decode exactly --tokens tokens
        return new GenerationRequest(prompt, plan.tokens, SamplingParams.GREEDY, List.of(), true, 0);
    }

    /**
     * Where llama.cpp chose another token than OSD: how far apart the two tokens' logits are in OSD's own
     * forward at that position. A gap near zero is a near tie that rounding order decides, not a wrong model.
     */
    private static List<Map<String, Object>> differences(List<Row> rows, Map<String, int[]> osdTokens,
            List<int[]> prompts, LlamaModel target, KvCachePool pool) {
        List<Map<String, Object>> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (Row r : rows) {
            if (r.firstDifference < 0 || r.differentToken < 0 || !seen.add(r.engine + "/" + r.prompt)) {
                continue;
            }
            int[] osd = osdTokens.get(r.repeat + "/" + r.prompt);
            int[] prompt = prompts.get(r.prompt);
            int[] prefix = Arrays.copyOf(prompt, prompt.length + r.firstDifference);
            System.arraycopy(osd, 0, prefix, prompt.length, r.firstDifference);
            float[] logits;
            try (KvCache cache = pool.acquire()) {
                logits = target.forward(cache, prefix, 1)[0];
            }
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("engine", r.engine);
            d.put("prompt", r.prompt);
            d.put("at_token", r.firstDifference);
            d.put("osd_token", osd[r.firstDifference]);
            d.put("llama_token", r.differentToken);
            d.put("osd_logit_gap", logits[osd[r.firstDifference]] - logits[r.differentToken]);
            out.add(d);
        }
        return out;
    }

    /** The draft converted too: its greedy tokens on every prompt, OSD against llama.cpp (untimed). */
    private Map<String, Object> draftEquality(List<int[]> prompts, NDManager manager, Path script, Path modules,
            Map<String, Path> gguf, int context, Path out) throws IOException {
        LlamaModel draft = LlamaModel.load(plan.draft, manager);
        int positions = Math.min(context, draft.config().maxPositionEmbeddings());
        Map<String, Object> equal = new LinkedHashMap<>();
        try (KvCachePool pool = draft.newCachePool(1, positions)) {
            SpeculativeDecoder osd = SpeculativeDecoder.targetOnly(draft, pool, null);
            List<int[]> expected = new ArrayList<>();
            for (int[] p : prompts) {
                expected.add(osd.generate(request(p)).tokens());
            }
            for (TensorType type : plan.types) {
                try (LlamaCppPeer peer = LlamaCppPeer.start(script, modules, gguf.get("draft-" + type), plan.threads,
                        positions, out.resolve("llama-draft-" + type.name().toLowerCase(Locale.ROOT) + ".log"))) {
                    int same = 0;
                    for (int i = 0; i < prompts.size(); i++) {
                        int[] got = peer.decode("draft" + i, prompts.get(i), plan.tokens).tokens();
                        same += firstDifference(expected.get(i), got) < 0 ? 1 : 0;
                    }
                    equal.put(type.name(), same + "/" + prompts.size());
                }
            }
        }
        return equal;
    }

    private static void closeAll(Iterable<LlamaCppPeer> peers) throws IOException {
        for (LlamaCppPeer p : peers) {
            p.close();
        }
    }

    /** -1 when equal, else the first index where the sequences differ (a length difference counts). */
    static int firstDifference(int[] a, int[] b) {
        return Arrays.mismatch(a, b);
    }

    /**
     * Per engine: each repeat's median over its prompts, then the median and range of those repeats; and
     * how many (prompt, repeat) decodes matched OSD's tokens exactly.
     */
    static Map<String, Object> summarize(List<Row> rows) {
        Map<String, Object> engines = new LinkedHashMap<>();
        int repeats = rows.stream().mapToInt(Row::repeat).max().orElse(-1) + 1;
        for (String engine : rows.stream().map(Row::engine).distinct().toList()) {
            List<Row> mine = rows.stream().filter(r -> r.engine.equals(engine)).toList();
            if (mine.isEmpty()) {
                continue;
            }
            double[] tpot = new double[repeats];
            double[] ttft = new double[repeats];
            for (int r = 0; r < repeats; r++) {
                final int repeat = r;
                tpot[r] = median(mine.stream().filter(x -> x.repeat == repeat).mapToDouble(Row::tpotMillis).toArray());
                ttft[r] = median(mine.stream().filter(x -> x.repeat == repeat).mapToDouble(Row::ttftMillis).toArray());
            }
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("tpot_ms", spread(tpot));
            e.put("ttft_ms", spread(ttft));
            e.put("tokens_per_s", 1000 / median(tpot));
            if (!engine.equals(OSD)) {
                long equal = mine.stream().filter(x -> x.firstDifference < 0).count();
                e.put("greedy_equal", equal + "/" + mine.size());
                e.put("first_differences", mine.stream().filter(x -> x.firstDifference >= 0)
                        .map(x -> "prompt " + x.prompt + " at token " + x.firstDifference).distinct().toList());
            }
            engines.put(engine, e);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("engines", engines);
        return out;
    }

    private static Map<String, Object> spread(double[] perRepeat) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("median", median(perRepeat));
        s.put("min", Arrays.stream(perRepeat).min().orElse(Double.NaN));
        s.put("max", Arrays.stream(perRepeat).max().orElse(Double.NaN));
        s.put("per_repeat", perRepeat);
        return s;
    }

    static double median(double[] values) {
        if (values.length == 0) {
            return Double.NaN;
        }
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private Map<String, Object> setup(Path out) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("command", String.format(Locale.ROOT, "./osd bench peers --model %s --out %s --tokens %d --prompts %d "
                + "--repeats %d --warmup %d --threads %d --gguf %s", plan.target, out, plan.tokens, plan.prompts,
                plan.repeats, plan.warmup, plan.threads, String.join(",", plan.types.stream().map(Enum::name).toList())));
        s.put("target", plan.target.toString());
        s.put("tokens", plan.tokens);
        s.put("prompts", plan.prompts);
        s.put("repeats", plan.repeats);
        s.put("osd_warmup_decodes", plan.warmup);
        s.put("llama_threads", plan.threads);
        s.put("osd_threads", System.getProperty("osd.engine.threads", "1"));
        s.put("cpus", Runtime.getRuntime().availableProcessors());
        s.put("java", System.getProperty("java.version"));
        s.put("node_llama_cpp", "3.21.1");
        return s;
    }

    private static void writeCsv(Path file, List<Row> rows) throws IOException {
        StringBuilder b = new StringBuilder(
                "engine,repeat,prompt,query_class,prompt_tokens,tokens,ttft_ms,tpot_ms,equal_to_osd,first_difference\n");
        for (Row r : rows) {
            boolean osd = r.engine.equals(OSD);
            b.append(String.format(Locale.ROOT, "%s,%d,%d,%s,%d,%d,%.3f,%.4f,%s,%s%n", r.engine, r.repeat, r.prompt,
                    r.queryClass, r.promptTokens, r.tokens, r.ttftMillis, r.tpotMillis,
                    osd ? "" : Boolean.toString(r.firstDifference < 0),
                    osd || r.firstDifference < 0 ? "" : Integer.toString(r.firstDifference)));
        }
        Files.writeString(file, b);
    }

    @SuppressWarnings("unchecked")
    private void print(Map<String, Object> summary) {
        Map<String, Object> engines = (Map<String, Object>) summary.get("engines");
        log.printf(Locale.ROOT, "%-16s %-26s %-26s %9s  %s%n", "engine", "time/output token ms", "time to first token ms",
                "tokens/s", "greedy = OSD");
        for (Map.Entry<String, Object> e : engines.entrySet()) {
            Map<String, Object> f = (Map<String, Object>) e.getValue();
            log.printf(Locale.ROOT, "%-16s %-26s %-26s %9.1f  %s%n", e.getKey(), range(f.get("tpot_ms"), 3),
                    range(f.get("ttft_ms"), 2), (double) f.get("tokens_per_s"), f.getOrDefault("greedy_equal", "-"));
        }
        for (Map<String, Object> d : (List<Map<String, Object>>) summary.getOrDefault("differences", List.of())) {
            log.printf(Locale.ROOT, "%s, prompt %s: token %s differs (OSD %s, llama.cpp %s; OSD's logit gap %.4f)%n",
                    d.get("engine"), d.get("prompt"), d.get("at_token"), d.get("osd_token"), d.get("llama_token"),
                    (float) d.get("osd_logit_gap"));
        }
        if (summary.containsKey("draft_greedy_equal")) {
            log.println("draft greedy = OSD: " + summary.get("draft_greedy_equal"));
        }
        log.printf(Locale.ROOT, "median of %d repeats [range]; each repeat the median over its prompts%n", plan.repeats);
    }

    @SuppressWarnings("unchecked")
    private static String range(Object spread, int digits) {
        Map<String, Object> s = (Map<String, Object>) spread;
        String f = "%." + digits + "f";
        return String.format(Locale.ROOT, f + " [" + f + "-" + f + "]", s.get("median"), s.get("min"), s.get("max"));
    }
}
