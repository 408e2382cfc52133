package dev.osd.app;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.workload.TrafficSchedule;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;
import java.util.stream.IntStream;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The paper's figures for an online run: α (50-request moving average) against requests per class, online
 * against the static base draft; α over the whole run with the schedule's boundaries; the schedule itself as
 * each class's share of traffic.
 */
final class OnlinePlots {

    private OnlinePlots() {
    }

    static void write(Path out, OnlineBenchmark.Plan plan, List<String> schedule, List<OnlineBenchmark.Outcome> outcomes)
            throws IOException {
        int w = OnlineBenchmark.WINDOW;
        XYChart all = chart(plan.staticBaseline() ? "token acceptance per class: online (solid) vs static base draft "
                + "(dashed)" : "token acceptance per class, online", "requests of the class");
        for (int ci = 0; ci < plan.classes().size(); ci++) {
            String c = plan.classes().get(ci);
            Color color = COLORS[ci % COLORS.length];
            List<OnlineBenchmark.Outcome> mine = outcomes.stream().filter(o -> o.queryClass().equals(c)).toList();
            if (mine.size() < 2) {
                continue;
            }
            double[] x = IntStream.rangeClosed(1, mine.size()).asDoubleStream().toArray();
            double[] online = movingAverage(mine, w, true);
            double[] fixed = movingAverage(mine, w, false);
            XYChart one = chart("token acceptance, " + c + (plan.staticBaseline() ? ": online vs static" : ", online"),
                    "requests of the class");
            one.addSeries("online", x, online).setMarker(SeriesMarkers.NONE);
            if (plan.staticBaseline()) {
                one.addSeries("static", x, fixed).setMarker(SeriesMarkers.NONE).setLineStyle(SeriesLines.DASH_DASH);
            }
            BitmapEncoder.saveBitmap(one, out.resolve("alpha-" + c + ".png").toString(), BitmapEncoder.BitmapFormat.PNG);
            all.addSeries(c, x, online).setMarker(SeriesMarkers.NONE).setLineColor(color);
            if (plan.staticBaseline()) {
                all.addSeries(c + " static", x, fixed).setMarker(SeriesMarkers.NONE).setLineStyle(SeriesLines.DASH_DASH)
                        .setLineColor(color);
            }
        }
        BitmapEncoder.saveBitmap(all, out.resolve("alpha.png").toString(), BitmapEncoder.BitmapFormat.PNG);

        double[] x = IntStream.rangeClosed(1, outcomes.size()).asDoubleStream().toArray();
        XYChart run = chart("token acceptance over the run (" + plan.schedule().name().toLowerCase() + " schedule)",
                "request");
        run.addSeries("online", x, movingAverage(outcomes, w, true)).setMarker(SeriesMarkers.NONE);
        if (plan.staticBaseline()) {
            run.addSeries("static", x, movingAverage(outcomes, w, false)).setMarker(SeriesMarkers.NONE)
                    .setLineStyle(SeriesLines.DASH_DASH);
        }
        boundaries(run, schedule);
        BitmapEncoder.saveBitmap(run, out.resolve("alpha-run.png").toString(), BitmapEncoder.BitmapFormat.PNG);

        XYChart shares = chart("traffic: share of each class over 100 requests", "request");
        shares.setYAxisTitle("share");
        for (int ci = 0; ci < plan.classes().size(); ci++) {
            String c = plan.classes().get(ci);
            double[] share = new double[schedule.size()];
            for (int i = 0; i < share.length; i++) {
                int from = Math.max(0, i - 99);
                long n = schedule.subList(from, i + 1).stream().filter(c::equals).count();
                share[i] = (double) n / (i + 1 - from);
            }
            shares.addSeries(c, IntStream.rangeClosed(1, share.length).asDoubleStream().toArray(), share)
                    .setMarker(SeriesMarkers.NONE).setLineColor(COLORS[ci % COLORS.length]);
        }
        boundaries(shares, schedule);
        BitmapEncoder.saveBitmap(shares, out.resolve("schedule.png").toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    /** Draws the plots again from a finished run's alpha.csv and summary.json (after a change to the plots). */
    static void replot(Path out) throws IOException {
        JsonObject summary = JsonParser.parseString(
                Files.readString(out.resolve("summary.json"))).getAsJsonObject();
        List<String> classes = new ArrayList<>(summary.getAsJsonObject("classes").keySet());
        JsonObject settings = summary.getAsJsonObject("settings");
        List<String> lines = Files.readAllLines(out.resolve("alpha.csv"));
        List<String> header = List.of(lines.get(0).split(","));
        List<OnlineBenchmark.Outcome> outcomes = new ArrayList<>();
        List<String> schedule = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            ToDoubleFunction<String> d = name -> Double.parseDouble(f[header.indexOf(name)]);
            outcomes.add(new OnlineBenchmark.Outcome((int) d.applyAsDouble("request"), f[1], f[2],
                    (long) d.applyAsDouble("draft_version"), (int) d.applyAsDouble("proposed"),
                    (int) d.applyAsDouble("accepted"), d.applyAsDouble("alpha"), d.applyAsDouble("static_alpha"),
                    d.applyAsDouble("acceptance_rate"), d.applyAsDouble("static_acceptance_rate"),
                    d.applyAsDouble("mean_acceptance_length"), (int) d.applyAsDouble("tokens"),
                    d.applyAsDouble("tpot_ms"), d.applyAsDouble("static_tpot_ms")));
            schedule.add(f[1]);
        }
        boolean withStatic = outcomes.stream().anyMatch(o -> !Double.isNaN(o.staticAlpha()));
        OnlineBenchmark.Plan plan = new OnlineBenchmark.Plan(
                TrafficSchedule.Kind.parse(settings.get("schedule").getAsString()), classes,
                settings.get("requests_per_class").getAsInt(), settings.get("drafts").getAsString().equals("per-class"),
                settings.get("temperature").getAsDouble(), settings.get("k").getAsInt(),
                settings.get("max_tokens").getAsInt(), null, 0, withStatic, settings.get("seed").getAsLong());
        write(out, plan, schedule, outcomes);
    }

    private static final Color[] COLORS = {new Color(31, 119, 180), new Color(255, 127, 14),
        new Color(44, 160, 44), new Color(214, 39, 40), new Color(148, 103, 189),
        new Color(140, 86, 75)};

    private static XYChart chart(String title, String xTitle) {
        XYChart c = new XYChartBuilder().width(900).height(500).title(title).xAxisTitle(xTitle)
                .yAxisTitle("token acceptance α (moving average of 50)").build();
        c.getStyler().setYAxisMin(0.0).setYAxisMax(1.0).setXAxisTickMarkSpacingHint(120)
                .setXAxisDecimalPattern("#");
        return c;
    }

    private static void boundaries(XYChart chart, List<String> schedule) {
        List<Integer> b = TrafficSchedule.boundaries(schedule);
        if (b.size() > 10) {
            return;
        }
        for (int i = 0; i < b.size(); i++) {
            chart.addSeries("shift " + (i + 1), new double[] {b.get(i), b.get(i)}, new double[] {0, 1})
                    .setMarker(SeriesMarkers.NONE).setLineStyle(SeriesLines.DOT_DOT).setLineColor(Color.GRAY)
                    .setShowInLegend(false);
        }
    }

    /** Trailing moving average over up to w requests (fewer at the start), of the online or static α. */
    static double[] movingAverage(List<OnlineBenchmark.Outcome> list, int w, boolean online) {
        double[] out = new double[list.size()];
        for (int i = 0; i < out.length; i++) {
            double v = OnlineSummary.mean(list, i + 1 - w, i + 1,
                    online ? OnlineBenchmark.Outcome::alpha : OnlineBenchmark.Outcome::staticAlpha);
            out[i] = Double.isNaN(v) ? 0 : v;
        }
        return out;
    }
}
