package dev.osd.app;

import java.io.PrintStream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress bars of the long commands (train, bench serve, bench cluster): on a terminal a bar redrawn in place,
 * when the output goes to a file or a pipe one plain line every ten seconds, so that logs hold no {@code \r}
 * frames.
 */
final class Progress {

    static final int WIDTH = 110;

    private Progress() {
    }

    /** A bar for {@code task} of {@code max} steps written to {@code out}. */
    static ProgressBarBuilder bar(String task, long max, PrintStream out) {
        // Java 17's System.console() is null exactly when standard input and output are not a terminal
        return bar(task, max, out, System.console() != null);
    }

    static ProgressBarBuilder bar(String task, long max, PrintStream out, boolean terminal) {
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(max)
                .setStyle(ProgressBarStyle.ASCII);
        if (terminal) {
            return b.setConsumer(new ConsoleProgressBarConsumer(out, WIDTH)).setUpdateIntervalMillis(1000);
        }
        return b.setConsumer(new DelegatingProgressBarConsumer(out::println, WIDTH)).setUpdateIntervalMillis(10_000);
    }
}
