package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextTokenizerTest {

    @TempDir
    Path dir;

    @Test
    void byteLevelBpeRoundTripsThroughDjlTokenizers() throws IOException {
        char[] sym = ByteLevelBpe.byteSymbols();
        String space = String.valueOf(sym[' ']);
        List<String[]> merges = List.of(new String[] {"t", "h"}, new String[] {"th", "e"},
                new String[] {space, "the"});
        Path file = dir.resolve("tokenizer.json");
        ByteLevelBpe.write(file, List.of("<|endoftext|>", "<s>"), merges);
        try (TextTokenizer t = TextTokenizer.load(dir)) {
            int[] ids = t.encode("the theme");
            // "the" and " the" are merged tokens: 2 specials + 256 bytes + 3 merges
            assertEquals(2 + 256 + 1, ids[0]);
            assertEquals(2 + 256 + 2, ids[1]);
            assertEquals("the theme", t.decode(ids));
            String text = "naïve café: 3 × 4 = 12 — ok";
            assertEquals(text, t.decode(t.encode(text)));
            assertEquals("ab", t.decode(new int[] {1, 2 + 'a', 2 + 'b', 0}), "special tokens are skipped");
            assertArrayEquals(new int[] {2 + 'a'}, t.encode("a"));
        }
    }

    @Test
    void missingOrBrokenTokenizerIsRefused() throws IOException {
        assertTrue(assertThrows(CheckpointException.class, () -> TextTokenizer.load(dir)).getMessage()
                .contains("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": 3}");
        assertThrows(CheckpointException.class, () -> TextTokenizer.load(dir));
    }
}
