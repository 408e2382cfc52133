package dev.osd.workload;

import dev.osd.engine.ByteLevelBpe;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Learns a byte-level BPE vocabulary from a corpus and writes it as a Hugging Face {@code tokenizer.json}.
 * Pre-tokenization is GPT-2's regular expression, the one the ByteLevel pre-tokenizer applies when the
 * tokenizer runs, so merges are learnt on the same pieces they are later applied to. Ties between equally
 * frequent pairs go to the smaller pair of ids: the result is a pure function of the corpus.
 */
public final class TokenizerTrainer {

    /** The project's special tokens, ids 0..3: EOS, BOS and the two chat roles. */
    public static final List<String> SPECIAL_TOKENS = List.of("<|endoftext|>", "<s>", "<|user|>", "<|assistant|>");

    private static final Pattern PRE_TOKENS = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    private TokenizerTrainer() {
    }

    /**
     * @param vocabSize total size: special tokens + 256 bytes + merges
     * @return the merges in rank order, spelled in byte symbols
     */
    public static List<String[]> learnMerges(List<String> corpus, int vocabSize) {
        int mergesWanted = vocabSize - SPECIAL_TOKENS.size() - 256;
        if (mergesWanted < 0) {
            throw new IllegalArgumentException("vocabulary of " + vocabSize + " is smaller than specials + 256 bytes");
        }
        char[] symbols = ByteLevelBpe.byteSymbols();
        Map<String, Integer> wordCounts = new HashMap<>();
        for (String text : corpus) {
            Matcher m = PRE_TOKENS.matcher(text);
            while (m.find()) {
                wordCounts.merge(m.group(), 1, Integer::sum);
            }
        }
        List<String> vocab = new ArrayList<>();
        Map<String, Integer> ids = new HashMap<>();
        for (int b = 0; b < 256; b++) {
            ids.put(String.valueOf(symbols[b]), vocab.size());
            vocab.add(String.valueOf(symbols[b]));
        }
        List<int[]> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        wordCounts.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            byte[] bytes = e.getKey().getBytes(StandardCharsets.UTF_8);
            int[] w = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                w[i] = bytes[i] & 0xff;
            }
            words.add(w);
            counts.add(e.getValue());
        });
        List<String[]> merges = new ArrayList<>();
        for (int step = 0; step < mergesWanted; step++) {
            Map<Long, Long> pairs = new HashMap<>();
            for (int i = 0; i < words.size(); i++) {
                int[] w = words.get(i);
                for (int j = 0; j + 1 < w.length; j++) {
                    pairs.merge(((long) w[j] << 32) | w[j + 1], (long) counts.get(i), Long::sum);
                }
            }
            long best = -1;
            long bestCount = 0;
            for (Map.Entry<Long, Long> e : pairs.entrySet()) {
                if (e.getValue() > bestCount || (e.getValue() == bestCount && e.getKey() < best)) {
                    best = e.getKey();
                    bestCount = e.getValue();
                }
            }
            if (bestCount < 2) {
                break; // nothing left worth merging
            }
            int left = (int) (best >>> 32);
            int right = (int) best;
            String merged = vocab.get(left) + vocab.get(right);
            int id = vocab.size();
            vocab.add(merged);
            merges.add(new String[] {vocab.get(left), vocab.get(right)});
            for (int i = 0; i < words.size(); i++) {
                words.set(i, apply(words.get(i), left, right, id));
            }
        }
        return merges;
    }

    private static int[] apply(int[] w, int left, int right, int id) {
        int n = 0;
        int[] out = null;
        for (int j = 0; j < w.length; j++) {
            if (j + 1 < w.length && w[j] == left && w[j + 1] == right) {
                if (out == null) {
                    out = new int[w.length];
                    System.arraycopy(w, 0, out, 0, j);
                    n = j;
                }
                out[n++] = id;
                j++;
            } else if (out != null) {
                out[n++] = w[j];
            }
        }
        return out == null ? w : Arrays.copyOf(out, n);
    }

    /** Learns merges and writes {@code tokenizer.json}. */
    public static void train(List<String> corpus, int vocabSize, Path file) throws IOException {
        ByteLevelBpe.write(file, SPECIAL_TOKENS, learnMerges(corpus, vocabSize));
    }

    /** The corpus the embedded tokenizer is learnt from: training examples of every class and general text. */
    public static List<String> embeddedCorpus(int perClass, long seed) {
        List<String> corpus = new ArrayList<>();
        Map<String, QueryClass> classes = new LinkedHashMap<>(Workload.byName());
        for (QueryClass c : classes.values()) {
            for (Example e : Workload.examples(c, Workload.Split.TRAIN, perClass, seed)) {
                corpus.add(e.text());
            }
        }
        return corpus;
    }
}
