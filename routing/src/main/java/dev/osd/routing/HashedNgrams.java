package dev.osd.routing;

import java.util.Arrays;
import java.util.Locale;

/** A query as features: its lowercased words and word pairs, hashed into a fixed number of buckets. */
final class HashedNgrams {

    private HashedNgrams() {
    }

    /** Distinct bucket indices of the query's unigrams and bigrams, plus a bias bucket 0. */
    static int[] of(String query, int buckets) {
        String[] words = query.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}_*=<>#]+");
        int[] out = new int[2 * words.length + 1];
        int n = 0;
        out[n++] = 0;
        String previous = null;
        for (String w : words) {
            if (w.isEmpty()) {
                continue;
            }
            out[n++] = bucket(w, buckets);
            if (previous != null) {
                out[n++] = bucket(previous + " " + w, buckets);
            }
            previous = w;
        }
        return Arrays.stream(out, 0, n).distinct().toArray();
    }

    private static int bucket(String s, int buckets) {
        int h = s.hashCode() * 0x9E3779B1;
        return 1 + Math.floorMod(h ^ (h >>> 15), buckets - 1);
    }
}
