package dev.osd.workload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.engine.TextTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTrainerTest {

    @TempDir
    static Path dir;
    static Path file;

    @BeforeAll
    static void train() throws IOException {
        file = dir.resolve("tokenizer.json");
        TokenizerTrainer.train(TokenizerTrainer.embeddedCorpus(300, 1), 700, file);
    }

    @Test
    void learntMergesAreDeterministic() {
        List<String[]> a = TokenizerTrainer.learnMerges(TokenizerTrainer.embeddedCorpus(100, 1), 400);
        List<String[]> b = TokenizerTrainer.learnMerges(TokenizerTrainer.embeddedCorpus(100, 1), 400);
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i)[0] + " " + a.get(i)[1], b.get(i)[0] + " " + b.get(i)[1]);
        }
    }

    @Test
    void roundTripsEveryClassAndArbitraryUnicode() {
        try (TextTokenizer t = TextTokenizer.load(file)) {
            for (QueryClass c : Workload.byName().values()) {
                for (Example e : Workload.examples(c, Workload.Split.HELD_OUT, 50, 9)) {
                    int[] ids = t.encode(e.text());
                    assertEquals(e.text(), t.decode(ids), c.name());
                    assertTrue(ids.length < e.text().length() * 0.6, c.name() + " compresses: " + ids.length);
                }
            }
            for (String s : List.of("日本語のテキスト", "emoji 🚀🔥 and ZWJ 👩‍👩‍👧", "Ελληνικά, русский, العربية",
                    "tabs\tand\nnewlines\r\n", "  leading spaces", "\u0000\u0001 control")) {
                assertEquals(s, t.decode(t.encode(s)), s);
            }
            int[] special = t.encode("<|user|>hi");
            assertEquals(2, special[0], "chat role markers are single special tokens");
        }
    }
}
