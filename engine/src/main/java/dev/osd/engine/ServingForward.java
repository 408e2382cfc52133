package dev.osd.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The serving forward of one model version: n new tokens for each of several sequences on top of their
 * caches, in one call. {@link LlamaModel} checks the arguments and advances the caches; an implementation
 * computes the logits of the last {@code keepLast[b]} new positions of each sequence and writes the new keys
 * and values into the caches. Implemented by {@link CpuForward} (JDK Vector API) and {@link DjlForward}
 * (PyTorch through DJL), so target and draft actors do not know which one runs them.
 */
interface ServingForward {

    List<float[][]> run(List<KvCache> caches, List<int[]> tokens, int[] keepLast);

    /** The kept rows of {@code logits} (kept, vocab), row-major, cut into one array of rows per sequence. */
    static List<float[][]> perSequence(float[] logits, int vocab, int[] keepLast) {
        List<float[][]> out = new ArrayList<>(keepLast.length);
        int row = 0;
        for (int keep : keepLast) {
            float[][] seq = new float[keep][];
            for (int i = 0; i < keep; i++, row++) {
                seq[i] = Arrays.copyOfRange(logits, row * vocab, (row + 1) * vocab);
            }
            out.add(seq);
        }
        return out;
    }
}
