package dev.osd.app;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaWeights;
import dev.osd.engine.SafeTensors;
import dev.osd.workload.TokenizerTrainer;
import dev.osd.workload.Workload;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Training runs write checkpoints, resume exactly where they stopped, and are deterministic by seed. */
class TrainingRunTest {

    @TempDir
    static Path dir;
    static Path tokenizer;

    @BeforeAll
    static void tokenizer() throws IOException {
        tokenizer = dir.resolve("tokenizer.json");
        TokenizerTrainer.train(TokenizerTrainer.embeddedCorpus(50, 1), 320, tokenizer);
    }

    private static TrainingRun.Plan plan(long seed) {
        LlamaConfig config = LlamaConfig.builder()
                .setHiddenSize(32).setIntermediateSize(64).setNumHiddenLayers(1).setNumAttentionHeads(2)
                .optNumKeyValueHeads(1).setVocabSize(320).optMaxPositionEmbeddings(128)
                .optTieWordEmbeddings(true).optBosTokenId(1).optEosTokenId(0).build();
        return new TrainingRun.Plan("tiny", config, List.of(Workload.CLASSES.get(0), Workload.GENERAL),
                List.of(Workload.GENERAL), 6, 4, 64, 3e-3, 0.1, 2, 2, 3, seed);
    }

    private static TrainingRun run(String name, long seed) {
        return new TrainingRun(plan(seed), dir.resolve(name).resolve("run"), dir.resolve(name).resolve("model"),
                tokenizer, new PrintStream(new ByteArrayOutputStream()));
    }

    private static Map<String, SafeTensors.Tensor> weights(String name) {
        return SafeTensors.read(dir.resolve(name).resolve("run/checkpoint").resolve(LlamaWeights.WEIGHTS_FILE));
    }

    @Test
    void anInterruptedRunResumesToTheSameWeights() throws IOException {
        assertEquals(6, run("straight", 5).run(10));
        assertEquals(3, run("resumed", 5).run(10, 3));
        assertEquals(3, stepOf("resumed"));
        assertEquals(6, run("resumed", 5).run(10));
        Map<String, SafeTensors.Tensor> a = weights("straight");
        Map<String, SafeTensors.Tensor> b = weights("resumed");
        for (String name : a.keySet()) {
            assertArrayEquals(a.get(name).values(), b.get(name).values(), name);
        }
        assertTrue(Files.isRegularFile(dir.resolve("straight/run/loss.png")));
        List<String> csv = Files.readAllLines(dir.resolve("straight/run/loss.csv"));
        assertEquals("step,tokens,seconds,lr,train_loss,heldout_general", csv.get(0));
        assertTrue(Files.isRegularFile(dir.resolve("straight/model/tokenizer.json")));
        assertEquals(SafeTensors.read(dir.resolve("straight/model/model.safetensors")).keySet(), a.keySet());
    }

    @Test
    void anotherSeedGivesOtherWeights() throws IOException {
        run("seed1", 1).run(10, 2);
        run("seed2", 2).run(10, 2);
        float[] a = weights("seed1").get("model.norm.weight").values();
        float[] b = weights("seed2").get("model.norm.weight").values();
        assertTrue(!java.util.Arrays.equals(a, b));
    }

    private static long stepOf(String name) throws IOException {
        String state = Files.readString(dir.resolve(name).resolve("run/checkpoint/state.json"));
        return Long.parseLong(state.replaceAll("(?s).*\"step\": (\\d+).*", "$1"));
    }
}
