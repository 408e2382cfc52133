package dev.osd.app;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import me.tongfei.progressbar.ProgressBar;
import org.junit.jupiter.api.Test;

/** Progress draws frames on a terminal and plain lines into a file or pipe. */
class ProgressTest {

    static String run(boolean terminal) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
                ProgressBar bar = Progress.bar("task", 10, out, terminal).build()) {
            bar.stepBy(10);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void framesOnATerminalPlainLinesElsewhere() {
        String log = run(false);
        assertFalse(log.contains("\r"), log);
        assertTrue(log.contains("task 100%"), log);
        assertTrue(log.endsWith("\n"), log);
        String terminal = run(true);
        assertTrue(terminal.contains("\r"), terminal);
    }
}
