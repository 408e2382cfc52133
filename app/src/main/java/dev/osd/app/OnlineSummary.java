package dev.osd.app;

import dev.osd.distillation.DraftTrainer;
import dev.osd.workload.TrafficSchedule;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/** The figures of an online run: α per class at fixed points, shifts and recovery, probes, training cost. */
final class OnlineSummary {

    private OnlineSummary() {
    }

    static Map<String, Object> of(OnlineBenchmark.Plan plan, List<String> schedule, List<OnlineBenchmark.Outcome> outcomes,
            List<OnlineBenchmark.Outcome> probes, List<DraftTrainer.Stats> stats, double seconds) {
        Map<String, Object> m = new LinkedHashMap<>();
        Map<String, Object> classes = new LinkedHashMap<>();
        int w = OnlineBenchmark.WINDOW;
        for (String c : plan.classes()) {
            List<OnlineBenchmark.Outcome> mine = outcomes.stream().filter(o -> o.queryClass().equals(c)).toList();
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("requests", mine.size());
            f.put("alpha_start", mean(mine, 0, w, OnlineBenchmark.Outcome::alpha));
            f.put("alpha_250", mine.size() >= 250 ? mean(mine, 250 - w, 250, OnlineBenchmark.Outcome::alpha) : null);
            f.put("alpha_500", mine.size() >= 500 ? mean(mine, 500 - w, 500, OnlineBenchmark.Outcome::alpha) : null);
            f.put("alpha_end", mean(mine, mine.size() - w, mine.size(), OnlineBenchmark.Outcome::alpha));
            f.put("static_alpha_start", mean(mine, 0, w, OnlineBenchmark.Outcome::staticAlpha));
            f.put("static_alpha_end", mean(mine, mine.size() - w, mine.size(), OnlineBenchmark.Outcome::staticAlpha));
            f.put("acceptance_rate_start", mean(mine, 0, w, OnlineBenchmark.Outcome::acceptanceRate));
            f.put("acceptance_rate_end", mean(mine, mine.size() - w, mine.size(), OnlineBenchmark.Outcome::acceptanceRate));
            f.put("static_acceptance_rate_end", mean(mine, mine.size() - w, mine.size(),
                    OnlineBenchmark.Outcome::staticAcceptanceRate));
            f.put("mean_acceptance_length_end", mean(mine, mine.size() - w, mine.size(),
                    OnlineBenchmark.Outcome::meanAcceptanceLength));
            f.put("tpot_ms_end", mean(mine, mine.size() - w, mine.size(), OnlineBenchmark.Outcome::tpotMs));
            f.put("static_tpot_ms_end", mean(mine, mine.size() - w, mine.size(), OnlineBenchmark.Outcome::staticTpotMs));
            List<OnlineBenchmark.Outcome> probed = probes.stream().filter(o -> o.queryClass().equals(c)).toList();
            if (!probed.isEmpty()) {
                f.put("alpha_probe", mean(probed, 0, probed.size(), OnlineBenchmark.Outcome::alpha));
                f.put("static_alpha_probe", mean(probed, 0, probed.size(), OnlineBenchmark.Outcome::staticAlpha));
            }
            classes.put(c, f);
        }
        m.put("classes", classes);
        m.put("shifts", shifts(schedule, outcomes));
        long updates = 0;
        double trainingSeconds = 0;
        Map<String, Object> drafts = new LinkedHashMap<>();
        for (DraftTrainer.Stats s : stats) {
            updates += s.updates();
            trainingSeconds += s.trainingSeconds();
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("version", s.version());
            d.put("updates", s.updates());
            d.put("rollbacks", s.rollbacks());
            d.put("failures", s.failures());
            d.put("records", s.records());
            d.put("dropped_untrained", s.droppedUntrained());
            d.put("seconds_per_update", s.secondsPerUpdate());
            d.put("last_loss", s.lastLoss());
            drafts.put(s.draft(), d);
        }
        m.put("updates", updates);
        m.put("seconds", seconds);
        m.put("training_seconds", trainingSeconds);
        m.put("seconds_per_update", updates == 0 ? 0 : trainingSeconds / updates);
        m.put("training_share", trainingSeconds / seconds);
        m.put("drafts", drafts);
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("schedule", plan.schedule().name().toLowerCase());
        settings.put("requests_per_class", plan.requestsPerClass());
        settings.put("drafts", plan.perClassDrafts() ? "per-class" : "shared");
        settings.put("loss", plan.trainer().divergence().name());
        settings.put("temperature", plan.temperature());
        settings.put("k", plan.k());
        settings.put("max_tokens", plan.maxTokens());
        settings.put("interval", plan.trainer().interval());
        settings.put("replay", plan.trainer().replay());
        settings.put("learning_rate", plan.trainer().learningRate());
        settings.put("policy", plan.trainer().policy().name().toLowerCase());
        settings.put("seed", plan.seed());
        m.put("settings", settings);
        return m;
    }

    /**
     * For each boundary of the schedule: α over the 50 requests before it, the lowest 50-request average after
     * it, and how many requests after it α was back within 0.05 of the level before (null if never).
     */
    static List<Map<String, Object>> shifts(List<String> schedule, List<OnlineBenchmark.Outcome> outcomes) {
        List<Map<String, Object>> out = new ArrayList<>();
        int w = OnlineBenchmark.WINDOW;
        List<Integer> boundaries = TrafficSchedule.boundaries(schedule);
        if (boundaries.size() > 10) {
            return out; // a mixed schedule switches class every few requests: no shifts to speak of
        }
        for (int b : boundaries) {
            if (b < w) {
                continue;
            }
            Map<String, Object> s = new LinkedHashMap<>();
            double before = mean(outcomes, b - w, b, OnlineBenchmark.Outcome::alpha);
            s.put("at", b);
            s.put("from", schedule.get(b - 1));
            s.put("to", schedule.get(b));
            s.put("alpha_before", before);
            double dip = Double.NaN;
            Integer recovered = null;
            for (int end = b + w; end <= outcomes.size(); end++) {
                double a = mean(outcomes, end - w, end, OnlineBenchmark.Outcome::alpha);
                dip = Double.isNaN(dip) ? a : Math.min(dip, a);
                if (recovered == null && a >= before - 0.05) {
                    recovered = end - b;
                }
            }
            s.put("alpha_dip", dip);
            s.put("recovered_after", recovered);
            out.add(s);
        }
        return out;
    }

    /** Mean of a field over outcomes [from, to), skipping requests without a value (no proposal). */
    static double mean(List<OnlineBenchmark.Outcome> list, int from, int to, ToDoubleFunction<OnlineBenchmark.Outcome> f) {
        double sum = 0;
        int n = 0;
        for (int i = Math.max(0, from); i < Math.min(list.size(), to); i++) {
            double v = f.applyAsDouble(list.get(i));
            if (Double.isFinite(v)) {
                sum += v;
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }
}
