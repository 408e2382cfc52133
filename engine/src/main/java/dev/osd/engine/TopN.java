package dev.osd.engine;

import java.util.PriorityQueue;

/** The indices of the n largest values of a row, largest first, ties by the smaller index, in O(V log n). */
public final class TopN {

    private TopN() {
    }

    public static int[] indices(double[] values, int n) {
        int keep = Math.min(n, values.length);
        // the heap's head is the weakest kept entry: smaller value, or equal value and larger index
        PriorityQueue<Integer> heap = new PriorityQueue<>(keep + 1, (a, b) -> values[a] != values[b]
                ? Double.compare(values[a], values[b]) : Integer.compare(b, a));
        for (int i = 0; i < values.length; i++) {
            if (heap.size() < keep) {
                heap.add(i);
            } else if (values[i] > values[heap.peek()]) {
                heap.poll();
                heap.add(i);
            }
        }
        int[] out = new int[heap.size()];
        for (int i = out.length - 1; i >= 0; i--) {
            out[i] = heap.poll();
        }
        return out;
    }

    public static int[] indices(float[] values, int n) {
        double[] d = new double[values.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = values[i];
        }
        return indices(d, n);
    }
}
