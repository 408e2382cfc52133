package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model loaded to serve on the CPU is built from the tensors as stored: its forward holds BF16 and F16
 * weights in their own 16-bit patterns, gives the logits a model over the widened DJL weights gives, bit for
 * bit, and the DJL weights exist only once asked for.
 */
class StoredServingTest {

    @TempDir
    Path dir;

    private static final int[] PROMPT = {1, 5, 9, 200, 33, 7};

    /** Prefill, two decodes and a 3-row verification: the logits of each, in order. */
    private static float[][] serve(LlamaModel model) {
        try (KvCachePool pool = model.newCachePool(1, 64); KvCache cache = pool.acquire()) {
            float[][] prefill = model.forward(cache, PROMPT);
            float[] decode1 = model.forward(cache, new int[] {42}, 1)[0];
            float[] decode2 = model.forward(cache, new int[] {99}, 1)[0];
            float[][] verify = model.forward(cache, new int[] {3, 4, 5});
            return new float[][] {prefill[0], prefill[PROMPT.length - 1], decode1, decode2, verify[0], verify[2]};
        }
    }

    private void servesAsTheWidenedWeights(SafeTensors.DType dtype, String storage) throws IOException {
        TinyModels.target().weights().save(dir, dtype);
        try (LlamaModel stored = LlamaModel.load(dir, TinyModels.manager());
                LlamaModel widened = LlamaModel.of(LlamaWeights.load(dir, TinyModels.manager()), ServingBackend.CPU)) {
            assertEquals(ServingBackend.CPU, stored.backend());
            assertFalse(stored.hasDjlWeights(), "a serving-only load makes no DJL copy");
            assertEquals(storage, stored.weightStorage());
            assertEquals(storage, widened.weightStorage());
            float[][] a = serve(stored);
            float[][] b = serve(widened);
            for (int i = 0; i < a.length; i++) {
                assertArrayEquals(b[i], a[i], "row " + i);
            }
            assertFalse(stored.hasDjlWeights(), "serving never needs them");
            // training's forward reads the weights from the directory when first asked for
            float[] reference = CacheConsistencyTest.reference(stored, PROMPT)[PROMPT.length - 1];
            assertTrue(stored.hasDjlWeights());
            assertArrayEquals(CacheConsistencyTest.reference(widened, PROMPT)[PROMPT.length - 1], reference);
        }
    }

    @Test
    void bfloat16CheckpointServesFromItsStoredBits() throws IOException {
        servesAsTheWidenedWeights(SafeTensors.DType.BF16, "bf16");
    }

    @Test
    void float16CheckpointServesFromItsStoredBits() throws IOException {
        servesAsTheWidenedWeights(SafeTensors.DType.F16, "f16");
    }

    @Test
    void float32CheckpointServesInFloat32() throws IOException {
        servesAsTheWidenedWeights(SafeTensors.DType.F32, "f32");
    }

    @Test
    void aNonFiniteStoredValueIsRefusedNamingTheTensor() throws IOException {
        Map<String, SafeTensors.Tensor> host = TinyModels.target().weights().toHost();
        host.get("model.layers.2.mlp.up_proj.weight").values()[17] = Float.POSITIVE_INFINITY;
        TinyModels.targetConfig().write(dir);
        SafeTensors.write(dir.resolve(WeightFiles.SINGLE_FILE), host, SafeTensors.DType.BF16);
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> LlamaModel.load(dir, TinyModels.manager()));
        assertTrue(e.getMessage().contains("model.layers.2.mlp.up_proj.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("non-finite"), e.getMessage());
    }

    @Test
    void aMissingStoredTensorIsRefusedNamingIt() throws IOException {
        Map<String, SafeTensors.Tensor> host = TinyModels.target().weights().toHost();
        host.remove("model.layers.1.self_attn.k_proj.weight");
        TinyModels.targetConfig().write(dir);
        SafeTensors.write(dir.resolve(WeightFiles.SINGLE_FILE), host, SafeTensors.DType.BF16);
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> LlamaModel.load(dir, TinyModels.manager()));
        assertTrue(e.getMessage().contains("model.layers.1.self_attn.k_proj.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
    }
}
