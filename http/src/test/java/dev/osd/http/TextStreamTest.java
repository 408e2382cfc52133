package dev.osd.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.osd.engine.ByteLevelBpe;
import dev.osd.engine.TextTokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Streamed text deltas on a byte-level tokenizer (one token per byte): stop strings and split characters. */
class TextStreamTest {

    @TempDir
    static Path dir;
    static TextTokenizer tokenizer;

    @BeforeAll
    static void tokenizer() throws Exception {
        Path file = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(file, List.of("<|endoftext|>", "<s>"), List.of());
        tokenizer = TextTokenizer.load(file);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    /** Streams {@code text} one token at a time; the deltas in order. */
    static List<String> stream(String text, List<String> stop, String finalText) {
        TextStream s = new TextStream(tokenizer, stop);
        java.util.ArrayList<String> deltas = new java.util.ArrayList<>();
        for (int t : tokenizer.encode(text)) {
            deltas.add(s.append(new int[] {t}));
        }
        deltas.add(s.finish(finalText));
        return deltas;
    }

    @Test
    void textFromAStopStringOnIsNeverSentAndAPossibleStopIsHeldBack() {
        List<String> deltas = stream("Hello ST then STOP world", List.of("STOP"), "Hello ST then ");
        assertEquals("Hello ST then ", String.join("", deltas));
        // "S" and "ST" could have begun the stop string: held back until "ST " showed they did not
        assertEquals("", deltas.get(6));
        assertEquals("", deltas.get(7));
        assertEquals("ST ", deltas.get(8));
    }

    @Test
    void aCharacterSplitOverTokensIsSentWhole() {
        String text = "caf\u00e9 \u20ac5";
        int bytes = text.getBytes(StandardCharsets.UTF_8).length;
        List<String> deltas = stream(text, List.of(), text);
        assertEquals(bytes + 1, deltas.size());
        assertEquals(text, String.join("", deltas));
        for (String d : deltas) {
            assertEquals(-1, d.indexOf('\uFFFD'), "no half character is ever sent: " + deltas);
        }
    }

    @Test
    void theFinishedTextCompletesWhatTheStreamHeldBack() {
        List<String> deltas = stream("total: 4", List.of("4 apples"), "total: 4");
        assertEquals("total: 4", String.join("", deltas));
        assertEquals("4", deltas.get(deltas.size() - 1), "held back as a possible stop, released at the end");
    }
}
