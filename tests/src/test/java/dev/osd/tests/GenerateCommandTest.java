package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.app.Osd;
import dev.osd.engine.SafeTensors;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code osd generate} on real checkpoint directories: loads, tokenizes, speculates, prints. */
class GenerateCommandTest {

    @TempDir
    static Path dir;
    static Path target;
    static Path draft;

    @BeforeAll
    static void models() throws IOException {
        target = ModelDirectories.write(dir.resolve("target"), ModelDirectories.target(), 3, SafeTensors.DType.F16);
        draft = ModelDirectories.write(dir.resolve("draft"), ModelDirectories.draft(), 4, SafeTensors.DType.BF16);
    }

    record Run(int code, String out, String err) {
        String[] lines() {
            return out.split("\n");
        }
    }

    static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Osd.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void speculativeOutputEqualsTargetOnlyAtTemperatureZero() {
        Run plain = run("generate", "--prompt", "Hello", "--model", target.toString(), "--no-speculation",
                "--max-tokens", "40", "--ignore-eos");
        Run spec = run("generate", "--prompt", "Hello", "--model", target.toString(), "--draft", draft.toString(),
                "--max-tokens", "40", "--num-draft-tokens", "3", "--ignore-eos");
        assertEquals(0, plain.code(), plain.err());
        assertEquals(0, spec.code(), spec.err());
        String text = plain.out().substring(0, plain.out().lastIndexOf("\ntokens="));
        assertEquals(text, spec.out().substring(0, spec.out().lastIndexOf("\ntokens=")));
        assertTrue(plain.out().contains("speculation=off"), plain.out());
        assertTrue(spec.out().contains("tokens=40 finish=length"), spec.out());
        assertTrue(spec.out().contains("acceptance="), spec.out());
        assertTrue(spec.out().contains("per_position=["), spec.out());
    }

    @Test
    void stopStringsCutTheTextAndEndGeneration() {
        String[] base = {"generate", "--prompt", "Hello", "--model", target.toString(), "--draft", draft.toString(),
            "--max-tokens", "40", "--ignore-eos"};
        Run free = run(base);
        String text = free.out().substring(0, free.out().lastIndexOf("\ntokens="));
        assertTrue(text.length() > 12, "enough text to cut: " + text);
        String stop = text.substring(8, 11);
        int cut = text.indexOf(stop);
        String[] withStop = java.util.Arrays.copyOf(base, base.length + 2);
        withStop[base.length] = "--stop";
        withStop[base.length + 1] = stop;
        Run stopped = run(withStop);
        assertEquals(0, stopped.code(), stopped.err());
        assertEquals(text.substring(0, cut), stopped.out().substring(0, stopped.out().lastIndexOf("\ntokens=")));
        assertTrue(stopped.out().contains("finish=stop"), stopped.out());
    }

    @Test
    void seededSamplingRepeats() {
        String[] args = {"generate", "--prompt", "abc", "--model", target.toString(), "--draft", draft.toString(),
            "--temperature", "0.9", "--top-p", "0.9", "--seed", "7", "--max-tokens", "20", "--ignore-eos"};
        Run a = run(args);
        Run b = run(args);
        assertEquals(a.lines()[0], b.lines()[0]);
    }

    @Test
    void badInputGetsOneClearLine() throws IOException {
        Run badTemp = run("generate", "--prompt", "x", "--model", target.toString(), "--temperature", "-1");
        assertEquals(2, badTemp.code());
        assertTrue(badTemp.err().contains("temperature must be"), badTemp.err());

        Path broken = dir.resolve("broken");
        Files.createDirectories(broken);
        Files.copy(target.resolve("config.json"), broken.resolve("config.json"));
        Files.copy(target.resolve("tokenizer.json"), broken.resolve("tokenizer.json"));
        byte[] weights = Files.readAllBytes(target.resolve("model.safetensors"));
        Files.write(broken.resolve("model.safetensors"), java.util.Arrays.copyOf(weights, weights.length / 2));
        Run r = run("generate", "--prompt", "x", "--model", broken.toString(), "--no-speculation");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("model.safetensors") && r.err().contains("truncated"), r.err());
    }

    @Test
    void aDraftCheckpointStoreServesItsNewestValidVersion() throws IOException {
        Path store = dir.resolve("store");
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
            dev.osd.drafts.DraftCheckpointStore s = new dev.osd.drafts.DraftCheckpointStore(store, "d", 3);
            for (long v = 1; v <= 2; v++) {
                try (dev.osd.drafts.DraftVersion version = new dev.osd.drafts.DraftVersion("d", v, v - 1,
                        dev.osd.engine.LlamaModel.load(draft, m))) {
                    s.save(version, null);
                }
            }
        }
        // the newest is damaged: the one before serves
        Files.write(store.resolve("v00000002.safetensors"), new byte[] {1, 2, 3});
        Run plain = run("generate", "--prompt", "Hello", "--model", target.toString(), "--no-speculation",
                "--max-tokens", "30", "--ignore-eos");
        Run spec = run("generate", "--prompt", "Hello", "--model", target.toString(), "--draft", store.toString(),
                "--max-tokens", "30", "--num-draft-tokens", "3", "--ignore-eos");
        assertEquals(0, spec.code(), spec.err());
        assertTrue(spec.err().contains("version 1"), spec.err());
        assertEquals(plain.lines()[0], spec.lines()[0]);
    }
}
