package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculativeDecoder;
import dev.osd.engine.TextTokenizer;
import dev.osd.workload.Example;
import dev.osd.workload.QueryClass;
import dev.osd.workload.Workload;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The shipped checkpoints in models/: they load, they are half precision and small, they share one
 * tokenizer, and the target really answers held-out prompts of every class (random weights would not).
 */
class EmbeddedModelsTest {

    static Path models;
    static NDManager manager;
    static LlamaModel target;
    static TextTokenizer tokenizer;

    static Path repositoryRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("models/target/config.json"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no models/target/config.json above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    @BeforeAll
    static void load() {
        models = repositoryRoot().resolve("models");
        manager = NDManager.newBaseManager();
        target = LlamaModel.load(models.resolve("target"), manager);
        tokenizer = TextTokenizer.load(models.resolve("target"));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
        target.close();
        manager.close();
    }

    @Test
    void checkpointsAreHalfPrecisionSmallAndShareATokenizer() throws IOException {
        long bytes = 0;
        for (String role : new String[] {"target", "draft"}) {
            Path weights = models.resolve(role).resolve("model.safetensors");
            bytes += Files.size(weights);
            assertTrue(headerOf(weights).contains("\"dtype\":\"F16\""), role + " is stored in float16");
        }
        assertTrue(bytes <= 40L << 20, "shipped weights take " + bytes + " bytes, more than 40 MiB");
        assertArrayEquals(Files.readAllBytes(models.resolve("target/tokenizer.json")),
                Files.readAllBytes(models.resolve("draft/tokenizer.json")));
        try (LlamaModel draft = LlamaModel.load(models.resolve("draft"), manager)) {
            LlamaConfig d = draft.config();
            assertEquals(target.config().vocabSize(), d.vocabSize());
            assertTrue(d.parameterCount() * 10 < target.config().parameterCount(), "the draft is much smaller");
        }
    }

    @Test
    void targetAnswersHeldOutPromptsOfEveryClass() {
        try (KvCachePool pool = target.newCachePool(1, 256)) {
            SpeculativeDecoder decoder = SpeculativeDecoder.targetOnly(target, pool, tokenizer);
            for (QueryClass c : Workload.CLASSES) {
                int exact = 0;
                StringBuilder misses = new StringBuilder();
                for (Example e : Workload.examples(c, Workload.Split.HELD_OUT, 10, 7)) {
                    int[] body = tokenizer.encode(e.prompt());
                    int[] prompt = new int[body.length + 1];
                    prompt[0] = target.config().bosTokenId();
                    System.arraycopy(body, 0, prompt, 1, body.length);
                    String answer = decoder.generate(GenerationRequest.of(prompt, tokenizer.encode(e.answer()).length
                            + 8, SamplingParams.GREEDY, 0)).text();
                    if (answer.equals(e.answer())) {
                        exact++;
                    } else {
                        misses.append("\n  wanted ").append(e.answer()).append("\n  got    ").append(answer);
                    }
                }
                assertTrue(exact >= 1, c.name() + ": no held-out prompt answered exactly" + misses);
            }
        }
    }

    @Test
    void generateDefaultsToTheEmbeddedModels() {
        Example e = Workload.examples(Workload.get("sql"), Workload.Split.HELD_OUT, 1, 7).get(0);
        System.setProperty("osd.home", repositoryRoot().toString());
        try {
            GenerateCommandTest.Run r = GenerateCommandTest.run("generate", "--prompt", e.prompt(), "--max-tokens",
                    "60");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("acceptance=") && r.out().contains("finish=stop"),
                    "speculates with the embedded draft and stops at EOS: " + r.out());
        } finally {
            System.clearProperty("osd.home");
        }
    }

    private static String headerOf(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new String(Arrays.copyOfRange(bytes, 8, 8 + (int) n), StandardCharsets.UTF_8);
    }
}
