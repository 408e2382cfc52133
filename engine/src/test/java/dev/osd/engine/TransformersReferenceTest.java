package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The engine against the reference implementation: tiny random Llama checkpoints written by Hugging Face
 * transformers 5.17 (torch 2.11), with the logits and greedy continuations it computed for them
 * (src/test/python/make_reference.py made them). One is F32 with an untied head, one BF16 with tied
 * embeddings and rope_theta 500000 in the transformers-5 {@code rope_parameters} form.
 */
class TransformersReferenceTest {

    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(TransformersReferenceTest.class.getResource("/reference/" + name + "/config.json").toURI())
                .getParent();
    }

    static Stream<Arguments> fixturesAndForwards() {
        return Stream.of("llama-f32-untied", "llama-bf16-tied").flatMap(name -> Stream.of(ServingBackend.values())
                .map(backend -> Arguments.of(name, backend)));
    }

    @ParameterizedTest
    @MethodSource("fixturesAndForwards")
    void logitsAndGreedyTokensMatchTransformers(String name, ServingBackend backend) throws IOException,
            URISyntaxException {
        Path dir = fixture(name);
        JsonObject ref = JsonParser.parseString(Files.readString(dir.resolve("reference.json"))).getAsJsonObject();
        JsonArray inputs = ref.getAsJsonArray("inputs");
        try (LlamaModel model = LlamaModel.of(LlamaWeights.load(dir, TinyModels.manager()), backend)) {
            assertEquals(name.contains("tied") && !name.contains("untied"), model.config().tieWordEmbeddings());
            KvCachePool pool = model.newCachePool(1);
            for (int i = 0; i < inputs.size(); i++) {
                int[] tokens = ints(inputs.get(i).getAsJsonArray());
                JsonArray expected = ref.getAsJsonArray("logits").get(i).getAsJsonArray();
                float[][] full = CacheConsistencyTest.reference(model, tokens);
                float[][] served;
                try (KvCache cache = pool.acquire()) {
                    served = model.forward(cache, tokens, tokens.length);
                }
                for (int t = 0; t < tokens.length; t++) {
                    float[] want = floats(expected.get(t).getAsJsonArray());
                    double training = CacheConsistencyTest.maxDiff(want, full[t]);
                    double serving = CacheConsistencyTest.maxDiff(want, served[t]);
                    assertTrue(training < 1e-4 && serving < 1e-4,
                            name + " " + backend + " input " + i + " position " + t + ": max |Δ| " + training + " / " + serving);
                }
                int[] greedy = ints(ref.getAsJsonArray("greedy").get(i).getAsJsonArray());
                SpeculativeDecoder decoder = SpeculativeDecoder.targetOnly(model, pool, null);
                GenerationResult result = decoder.generate(new GenerationRequest(tokens, greedy.length,
                        SamplingParams.GREEDY, null, true, 0));
                assertArrayEquals(greedy, result.tokens(), name + " greedy continuation of input " + i);
            }
            pool.close();
        }
    }

    private static int[] ints(JsonArray a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }

    private static float[] floats(JsonArray a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsFloat();
        }
        return out;
    }
}
