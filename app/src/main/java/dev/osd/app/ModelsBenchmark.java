package dev.osd.app;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculativeDecoder;
import dev.osd.engine.TextTokenizer;
import dev.osd.workload.Example;
import dev.osd.workload.QueryClass;
import dev.osd.workload.Workload;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Figures of a target and base draft on the workload's held-out prompts, per class: the target's loss and
 * greedy exact match of the answer, the draft's acceptance against the target at temperature 0 and 1, and the
 * draft-to-target cost ratio c of one-token decodes.
 */
final class ModelsBenchmark {

    /** Figures of one class. */
    record ClassFigures(String queryClass, int prompts, double targetLoss, double exactMatch, double draftLoss,
            double alphaGreedy, double alphaSampled) {
    }

    private final LlamaModel target;
    private final LlamaModel draft;
    private final TextTokenizer tokenizer;
    private final int k;

    ModelsBenchmark(LlamaModel target, LlamaModel draft, TextTokenizer tokenizer, int k) {
        this.target = target;
        this.draft = draft;
        this.tokenizer = tokenizer;
        this.k = k;
    }

    ClassFigures measure(QueryClass c, int n, long seed) {
        List<Example> examples = Workload.examples(c, Workload.Split.HELD_OUT, n, seed);
        double targetLoss = 0;
        double draftLoss = 0;
        int exact = 0;
        long proposedGreedy = 0;
        long acceptedGreedy = 0;
        long proposedSampled = 0;
        long acceptedSampled = 0;
        try (KvCachePool targetPool = target.newCachePool(1, 256); KvCachePool draftPool = draft.newCachePool(1, 256)) {
            SpeculativeDecoder plain = SpeculativeDecoder.targetOnly(target, targetPool, tokenizer);
            SpeculativeDecoder spec = new SpeculativeDecoder(target, targetPool, draft, draftPool, tokenizer);
            for (int i = 0; i < examples.size(); i++) {
                Example e = examples.get(i);
                int[] prompt = Prompts.encode(tokenizer, target.config(), e.prompt());
                int[] answer = tokenizer.encode(e.answer());
                int[] full = concat(prompt, answer, target.config().eosTokenId());
                targetLoss += loss(target, full);
                draftLoss += loss(draft, full);
                int budget = answer.length + 8;
                GenerationResult greedy = plain.generate(GenerationRequest.of(prompt, budget, SamplingParams.GREEDY, 0));
                if (greedy.text().equals(e.answer())) {
                    exact++;
                }
                GenerationResult g0 = spec.generate(GenerationRequest.of(prompt, budget, SamplingParams.GREEDY, k));
                proposedGreedy += g0.stats().draftTokens();
                acceptedGreedy += g0.stats().acceptedTokens();
                GenerationResult g1 = spec.generate(GenerationRequest.of(prompt, budget,
                        SamplingParams.sample(1.0, seed * 1000 + i), k));
                proposedSampled += g1.stats().draftTokens();
                acceptedSampled += g1.stats().acceptedTokens();
            }
        }
        return new ClassFigures(c.name(), n, targetLoss / n, (double) exact / n, draftLoss / n,
                (double) acceptedGreedy / Math.max(1, proposedGreedy), (double) acceptedSampled / Math.max(1, proposedSampled));
    }

    private static int[] concat(int[] prompt, int[] answer, int eos) {
        int[] s = Arrays.copyOf(prompt, prompt.length + answer.length + 1);
        System.arraycopy(answer, 0, s, prompt.length, answer.length);
        s[s.length - 1] = eos;
        return s;
    }

    /** Mean next-token cross-entropy over a whole sequence. */
    static double loss(LlamaModel model, int[] sequence) {
        try (NDManager scope = NDManager.newBaseManager()) {
            long[] ids = Arrays.stream(sequence).asLongStream().toArray();
            NDArray logits = model.sequenceLogits(scope.create(ids).reshape(1, ids.length));
            float[] lp = logits.logSoftmax(-1).toFloatArray();
            int vocab = model.config().vocabSize();
            double sum = 0;
            for (int i = 0; i + 1 < sequence.length; i++) {
                sum -= lp[i * vocab + sequence[i + 1]];
            }
            return sum / (sequence.length - 1);
        }
    }

    /** Median time of one-token decodes at a context of 64 tokens, in milliseconds. */
    static double decodeMillis(LlamaModel model) {
        try (KvCachePool pool = model.newCachePool(1, 128); KvCache cache = pool.acquire()) {
            model.forward(cache, new int[64], 1);
            double[] samples = new double[15];
            for (int warm = 0; warm < 200; warm++) {
                model.forward(cache, new int[] {5}, 1);
                cache.truncate(64);
            }
            for (int s = 0; s < samples.length; s++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < 20; i++) {
                    model.forward(cache, new int[] {5}, 1);
                    cache.truncate(64);
                }
                samples[s] = (System.nanoTime() - t0) / 1e6 / 20;
            }
            Arrays.sort(samples);
            return samples[samples.length / 2];
        }
    }

    static Map<String, Object> summary(List<ClassFigures> figures, double draftMillis, double targetMillis) {
        Map<String, Object> m = new LinkedHashMap<>();
        Map<String, Object> classes = new LinkedHashMap<>();
        for (ClassFigures f : figures) {
            classes.put(f.queryClass(), f);
        }
        m.put("classes", classes);
        m.put("draft_decode_ms", draftMillis);
        m.put("target_decode_ms", targetMillis);
        m.put("cost_ratio", draftMillis / targetMillis);
        return m;
    }

    static List<QueryClass> allClasses() {
        List<QueryClass> all = new ArrayList<>(Workload.CLASSES);
        all.add(Workload.GENERAL);
        return all;
    }
}
