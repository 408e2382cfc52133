package dev.osd.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Model-free speculation learned from served text (after SuffixDecoding and prompt-lookup decoding), and the
 * per-round choice between it and the draft model. Per draft, one of these holds a {@link SuffixIndex} of the
 * sequences it served; a round's suffix proposal continues the longest match of the sequence's last tokens,
 * in the request's own sequence (its prompt and what it generated so far) or in the index, voting among the
 * matches on each next token. Its proposals are deterministic given what it saw, so they go out one-hot
 * (q = 1 on the proposed token) and verification stays exact.
 *
 * <p>Per round it picks what it expects to emit the most tokens per unit of time: the draft model's k
 * tokens, the suffix match (its length chosen here), or the suffix match extended by the draft. The figures
 * are measured online: acceptance per proposer (the suffix's per match order, scaled by how often the matches
 * agreed on each token), the draft's time per proposed token, and the time a round's verification takes by
 * the rows it scores, read from when the request comes back for its next proposal. The outcome of a round is
 * read from the next sequence the request sends: the proposed tokens it kept.
 *
 * <p>Not thread-safe: one owner (a draft replica's actor, or one decoder).
 */
public final class SuffixProposer {

    /** Which proposers a draft uses. */
    public enum Mode {
        /** the draft model alone (no index is kept) */
        DRAFT,
        /** the suffix match whenever there is one, the draft model otherwise */
        SUFFIX,
        /** per round, whichever is expected to give the most tokens per unit of time */
        BOTH;

        public static Mode parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("proposer must be draft, suffix or both, not " + s);
            }
        }
    }

    /** Who made a proposal (the {@code proposer} label of the metrics). */
    public enum Kind {
        DRAFT("draft"), SUFFIX("suffix"), SUFFIX_DRAFT("suffix+draft");

        private final String label;

        Kind(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /**
     * This round's plan: {@code suffix} one-hot tokens first (none for the draft alone), then
     * {@code draftTokens} drawn by the draft model after them (none for the suffix alone).
     */
    public record Choice(Kind kind, int[] suffix, int draftTokens) {
        public int proposed() {
            return suffix.length + draftTokens;
        }
    }

    /** The figures the choice is made on, for tests and logs. */
    public record Figures(double draftAcceptance, double[] suffixAcceptance, double draftStepMs,
            double verifyMs1, double verifySlopeMs, long rounds, Map<String, Long> chosen) {
    }

    // a match's tokens agreed on by fewer candidates are trusted less
    private static final int CANDIDATES = 8;
    private static final double DECAY = 0.99;
    // every so often a round goes to the alternative not chosen, so its figures stay measured
    private static final int EXPLORE_EVERY = 24;

    private final Mode mode;
    private final SuffixIndex index;
    private final int maxTokens;
    private final Map<String, Open> open = new HashMap<>();
    private final Map<String, Long> chosen = new LinkedHashMap<>();
    // decayed sums: the draft's accepted and judged positions; the suffix's per match order, judged weighted by
    // the matches' agreement on each token
    private double draftAccepted = 1;
    private double draftJudged = 2;
    private final double[] suffixAccepted = new double[SuffixIndex.ORDERS.length];
    private final double[] suffixJudged = new double[SuffixIndex.ORDERS.length];
    private double draftStepMs = Double.NaN;
    private double suffixMs;
    // verification time by rows scored: decayed sums for a least-squares line
    private double vw;
    private double vx;
    private double vy;
    private double vxx;
    private double vxy;
    private long rounds;

    /** One request's sequence as last seen, and its round in flight. */
    private static final class Open {
        int[] sequence;
        Choice pending;
        double[] support;
        int order;
        int[] drafted;
        int seenAt;
        long answeredNanos;
    }

    /**
     * @param tokens tokens the index holds (oldest evicted)
     * @param maxTokens most tokens one suffix proposal has
     */
    public SuffixProposer(Mode mode, int tokens, int maxTokens) {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("a suffix proposal needs room for a token, max " + maxTokens);
        }
        this.mode = mode;
        this.index = mode == Mode.DRAFT ? null : new SuffixIndex(tokens);
        this.maxTokens = maxTokens;
        for (int o = 0; o < SuffixIndex.ORDERS.length; o++) {
            // a prior that trusts longer matches more, soon outweighed by what is measured
            double prior = 0.4 + 0.5 * o / (SuffixIndex.ORDERS.length - 1);
            suffixAccepted[o] = 2 * prior;
            suffixJudged[o] = 2;
        }
    }

    public Mode mode() {
        return mode;
    }

    /** Bytes the index holds (0 without one). */
    public long memoryBytes() {
        return index == null ? 0 : index.memoryBytes();
    }

    public SuffixIndex index() {
        return index;
    }

    /**
     * Settles the request's previous round from its new sequence, then plans this round.
     *
     * @param k the draft model's proposal length the request asks for
     * @param room most tokens a proposal may have (the room left in the request's context)
     */
    public Choice next(String requestId, int[] sequence, int k, int room, long nowNanos) {
        Open o = open.computeIfAbsent(requestId, id -> new Open());
        settle(o, sequence, nowNanos);
        o.sequence = sequence;
        o.seenAt = sequence.length;
        Choice c = choose(o, sequence, Math.max(0, Math.min(k, room)), room);
        o.pending = c;
        rounds++;
        chosen.merge(c.kind().label(), 1L, Long::sum);
        return c;
    }

    /**
     * The proposal went out: the tokens the draft model drew after the suffix's (none for the suffix alone),
     * the time of its forwards and when.
     *
     * @param draftNanos the draft forwards' time, over {@code draftSteps} steps
     */
    public void proposed(String requestId, int[] drafted, long draftNanos, int draftSteps, long nowNanos) {
        Open o = open.get(requestId);
        if (o == null) {
            return;
        }
        o.drafted = drafted;
        o.answeredNanos = nowNanos;
        if (draftSteps > 0) {
            double ms = draftNanos / 1e6 / draftSteps;
            draftStepMs = Double.isNaN(draftStepMs) ? ms : 0.9 * draftStepMs + 0.1 * ms;
        }
    }

    /** The request's proposal never went out (the draft failed): its round is not judged. */
    public void abandoned(String requestId) {
        Open o = open.get(requestId);
        if (o != null) {
            o.pending = null;
        }
    }

    /**
     * The request ended: its sequence (the last one seen when {@code finalSequence} is null) joins the index.
     */
    public void finish(String requestId, int[] finalSequence) {
        Open o = open.remove(requestId);
        int[] s = finalSequence != null ? finalSequence : o == null ? null : o.sequence;
        if (index != null && s != null && s.length > 0) {
            index.add(s);
        }
    }

    /** Requests with a round in flight or a sequence seen. */
    public int openRequests() {
        return open.size();
    }

    public Figures figures() {
        double[] s = new double[suffixAccepted.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = suffixAlpha(i);
        }
        return new Figures(draftAlpha(), s, draftStepMs, verifyMs(1), verifyMs(2) - verifyMs(1), rounds,
                Map.copyOf(chosen));
    }

    /**
     * Most tokens a proposal may have for {@code g}: a round emits its accepted tokens and one more, within
     * max_tokens and the context of {@code capacity} positions. The request's num_draft_tokens bounds only the
     * draft model's tokens.
     */
    public static int room(Generation g, int capacity) {
        return Math.max(0, Math.min(g.request().maxTokens() - g.generated() - 1, capacity - g.length() - 1));
    }

    /** A one-hot row per token: the distribution a deterministic proposal was drawn from. */
    public static SparseDistribution[] oneHot(int[] tokens) {
        SparseDistribution[] q = new SparseDistribution[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            q[i] = new SparseDistribution(new int[] {tokens[i]}, new double[] {1});
        }
        return q;
    }

    private void settle(Open o, int[] sequence, long nowNanos) {
        Choice c = o.pending;
        o.pending = null;
        if (c == null || sequence.length <= o.seenAt) {
            return;
        }
        int[] all = concat(c.suffix(), o.drafted);
        o.drafted = null;
        int n = all.length;
        int s = c.suffix().length;
        // the proposed tokens the new sequence kept (a rejected token is always replaced by another one)
        int accepted = 0;
        while (accepted < n && o.seenAt + accepted < sequence.length
                && all[accepted] == sequence[o.seenAt + accepted]) {
            accepted++;
        }
        if (s > 0) {
            int judged = Math.min(accepted + 1, s);
            double w = 0;
            for (int i = 0; i < judged; i++) {
                w += o.support[i];
            }
            suffixAccepted[o.order] = DECAY * suffixAccepted[o.order] + Math.min(accepted, s);
            suffixJudged[o.order] = DECAY * suffixJudged[o.order] + w;
        }
        if (n > s && accepted >= s) {
            int a = accepted - s;
            draftAccepted = DECAY * draftAccepted + a;
            draftJudged = DECAY * draftJudged + Math.min(a + 1, n - s);
        }
        if (o.answeredNanos > 0 && sequence.length - o.seenAt <= n + 1) {
            // the request came back after one verification: that was its time
            double ms = (nowNanos - o.answeredNanos) / 1e6;
            int rows = n + 1;
            vw = DECAY * vw + 1;
            vx = DECAY * vx + rows;
            vy = DECAY * vy + ms;
            vxx = DECAY * vxx + (double) rows * rows;
            vxy = DECAY * vxy + rows * ms;
        }
    }

    private Choice choose(Open o, int[] sequence, int k, int room) {
        Choice draftOnly = new Choice(Kind.DRAFT, new int[0], k);
        if (mode == Mode.DRAFT || room < 1) {
            return draftOnly;
        }
        long start = System.nanoTime();
        Match m = longest(sequence, Math.min(maxTokens, room));
        suffixMs = 0.9 * suffixMs + 0.1 * (System.nanoTime() - start) / 1e6;
        if (m == null) {
            return draftOnly;
        }
        o.order = m.order;
        o.support = m.support;
        double a = suffixAlpha(m.order);
        // the suffix alone: the length with the most tokens per unit of time
        double best = -1;
        int bestLength = 1;
        double reach = 1;
        double expected = 0;
        double[] reachAt = new double[m.tokens.length + 1];
        double[] expectedAt = new double[m.tokens.length + 1];
        reachAt[0] = 1;
        for (int i = 0; i < m.tokens.length; i++) {
            reach *= Math.min(1, a * m.support[i]);
            expected += reach;
            reachAt[i + 1] = reach;
            expectedAt[i + 1] = expected;
            double value = (1 + expected) / (suffixMs + verifyMs(i + 2));
            if (value > best) {
                best = value;
                bestLength = i + 1;
            }
        }
        Choice suffix = new Choice(Kind.SUFFIX, Arrays.copyOf(m.tokens, bestLength), 0);
        if (mode == Mode.SUFFIX || k < 1) {
            return suffix;
        }
        double alpha = draftAlpha();
        double step = Double.isNaN(draftStepMs) ? 0.1 * verifyMs(1) : draftStepMs;
        double draftValue = (1 + geometric(alpha, k)) / (k * step + verifyMs(k + 1));
        // the whole match, then the draft's tokens after it
        int s = m.tokens.length;
        int kd = Math.min(k, room - s);
        double hybridValue = -1;
        if (kd >= 1) {
            hybridValue = (1 + expectedAt[s] + reachAt[s] * geometric(alpha, kd))
                    / (suffixMs + kd * step + verifyMs(s + kd + 1));
        }
        Choice hybrid = kd >= 1 ? new Choice(Kind.SUFFIX_DRAFT, m.tokens, kd) : null;
        Choice pick;
        Choice other;
        if (draftValue >= best && draftValue >= hybridValue) {
            pick = draftOnly;
            other = hybridValue > best ? hybrid : suffix;
        } else if (hybridValue > best) {
            pick = hybrid;
            other = draftOnly;
        } else {
            pick = suffix;
            other = draftOnly;
        }
        if (rounds % EXPLORE_EVERY == EXPLORE_EVERY - 1) {
            return other;
        }
        return pick;
    }

    private static double geometric(double alpha, int k) {
        double sum = 0;
        double p = 1;
        for (int i = 0; i < k; i++) {
            p *= alpha;
            sum += p;
        }
        return sum;
    }

    private double draftAlpha() {
        return Math.min(0.99, draftAccepted / draftJudged);
    }

    private double suffixAlpha(int order) {
        return Math.min(1, suffixAccepted[order] / suffixJudged[order]);
    }

    /**
     * Verification time of {@code rows} rows: V(1) · (1 + s · (rows − 1)), through the mean of what rounds
     * measured, with the relative slope s fitted to them (pulled towards 0.3 until several row counts were
     * measured, and kept within [0.05, 0.6]: a forward has a fixed cost, and more rows never cost less).
     */
    double verifyMs(int rows) {
        if (vw < 1e-9) {
            return 1 + 0.3 * (rows - 1);
        }
        double mx = vx / vw;
        double my = vy / vw;
        double sxx = vxx - vw * mx * mx;
        double sxy = vxy - vw * mx * my;
        double prior = 2;
        double base = my / (1 + 0.3 * (mx - 1));
        double slope = (sxy + prior * 0.3 * base) / (sxx + prior);
        double intercept = my - slope * (mx - 1);
        double relative = intercept <= 0 ? 0.6 : Math.max(0.05, Math.min(0.6, slope / intercept));
        double one = my / (1 + relative * (mx - 1));
        return Math.max(1e-3, one * (1 + relative * (rows - 1)));
    }

    /** The longest match's continuation, with each token's share of the matches that agree on it. */
    record Match(int order, int[] tokens, double[] support) {
    }

    Match longest(int[] sequence, int length) {
        for (int order = SuffixIndex.ORDERS.length - 1; order >= 0; order--) {
            int n = SuffixIndex.ORDERS[order];
            if (n >= sequence.length) {
                continue;
            }
            List<int[]> candidates = new ArrayList<>();
            int[] self = selfMatch(sequence, n, length);
            if (self != null) {
                candidates.add(self);
            }
            candidates.addAll(index.continuations(sequence, order, length, CANDIDATES));
            if (!candidates.isEmpty()) {
                return vote(order, candidates, length);
            }
        }
        return null;
    }

    /** Prompt lookup: the most recent earlier occurrence of the sequence's last n tokens in the sequence itself. */
    static int[] selfMatch(int[] sequence, int n, int length) {
        int tail = sequence.length - n;
        for (int j = tail - 1; j >= 0; j--) {
            boolean match = true;
            for (int i = 0; i < n; i++) {
                if (sequence[j + i] != sequence[tail + i]) {
                    match = false;
                    break;
                }
            }
            if (match) {
                int from = j + n;
                return Arrays.copyOfRange(sequence, from, Math.min(sequence.length, from + length));
            }
        }
        return null;
    }

    /**
     * Token by token, the continuation most candidates agree on (the most recent on a tie), each token with the
     * share of the still-agreeing candidates that had it; candidates that disagree drop out.
     */
    static Match vote(int order, List<int[]> candidates, int length) {
        int[] tokens = new int[length];
        double[] support = new double[length];
        List<int[]> alive = new ArrayList<>(candidates);
        int i = 0;
        while (i < length) {
            Map<Integer, Integer> counts = new LinkedHashMap<>();
            int total = 0;
            for (int[] c : alive) {
                if (c.length > i) {
                    counts.merge(c[i], 1, Integer::sum);
                    total++;
                }
            }
            if (total == 0) {
                break;
            }
            int best = -1;
            int bestCount = 0;
            for (Map.Entry<Integer, Integer> e : counts.entrySet()) {
                if (e.getValue() > bestCount) {
                    best = e.getKey();
                    bestCount = e.getValue();
                }
            }
            tokens[i] = best;
            // a lone match is trusted as much as one that all of its peers agree with
            support[i] = (double) bestCount / total;
            final int at = i;
            final int token = best;
            alive.removeIf(c -> c.length <= at || c[at] != token);
            i++;
        }
        return new Match(order, Arrays.copyOf(tokens, i), Arrays.copyOf(support, i));
    }

    private static int[] concat(int[] a, int[] b) {
        if (b == null || b.length == 0) {
            return a.clone();
        }
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
