package dev.osd.app;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Draws a training run's loss.csv (training loss and held-out loss per class against steps) as a PNG. */
final class LossPlot {

    private LossPlot() {
    }

    static void write(Path csv, Path png, String title) throws IOException {
        List<String> lines = Files.readAllLines(csv);
        if (lines.size() < 2) {
            return;
        }
        String[] header = lines.get(0).split(",");
        List<double[]> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",");
            double[] r = new double[cells.length];
            for (int i = 0; i < cells.length; i++) {
                r[i] = Double.parseDouble(cells[i]);
            }
            rows.add(r);
        }
        XYChart chart = new XYChartBuilder().width(900).height(540).title("training loss: " + title)
                .xAxisTitle("step").yAxisTitle("cross-entropy per token").build();
        chart.getStyler().setYAxisLogarithmic(true);
        double[] steps = rows.stream().mapToDouble(r -> r[0]).toArray();
        for (int col = 4; col < header.length; col++) {
            final int c = col;
            double[] y = rows.stream().mapToDouble(r -> r[c]).toArray();
            chart.addSeries(header[col], steps, y).setMarker(SeriesMarkers.NONE);
        }
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
