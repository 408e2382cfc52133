package dev.osd.app;

import dev.osd.engine.TextTokenizer;
import dev.osd.workload.Example;
import dev.osd.workload.QueryClass;
import dev.osd.workload.Workload;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The training stream of one model: batch b is a pure function of (b, seed), so a resumed run sees exactly
 * the batches it would have seen. Sequences are BOS + prompt + answer + EOS, cut to the context length.
 */
final class TrainingData {

    private final List<QueryClass> classes;
    private final TextTokenizer tokenizer;
    private final int batchSize;
    private final int maxLength;
    private final long seed;
    private final int bos;
    private final int eos;

    TrainingData(List<QueryClass> classes, TextTokenizer tokenizer, int batchSize, int maxLength, long seed, int bos,
            int eos) {
        this.classes = classes;
        this.tokenizer = tokenizer;
        this.batchSize = batchSize;
        this.maxLength = maxLength;
        this.seed = seed;
        this.bos = bos;
        this.eos = eos;
    }

    List<int[]> batch(long step) {
        List<int[]> batch = new ArrayList<>(batchSize);
        for (int i = 0; i < batchSize; i++) {
            long n = step * batchSize + i;
            QueryClass c = classes.get((int) (n % classes.size()));
            batch.add(sequence(Workload.example(c, Workload.Split.TRAIN, n / classes.size(), seed)));
        }
        return batch;
    }

    int[] sequence(Example e) {
        int[] body = tokenizer.encode(e.text());
        int n = Math.min(body.length + 2, maxLength);
        int[] s = new int[n];
        s[0] = bos;
        System.arraycopy(body, 0, s, 1, Math.min(body.length, n - 1));
        if (body.length + 2 > maxLength) {
            return s;
        }
        if (e.answer().isEmpty()) {
            return Arrays.copyOf(s, n - 1); // a bare prompt does not end the text: no EOS after it
        }
        s[n - 1] = eos;
        return s;
    }

    /** Held-out sequences of one class, for evaluation losses. */
    List<int[]> heldOut(QueryClass c, int n) {
        List<int[]> out = new ArrayList<>(n);
        for (Example e : Workload.examples(c, Workload.Split.HELD_OUT, n, seed + 1)) {
            out.add(sequence(e));
        }
        return out;
    }
}
