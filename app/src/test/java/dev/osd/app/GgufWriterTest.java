package dev.osd.app;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.app.GgufWriter.TensorType;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.SafeTensors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GGUF files as llama.cpp reads them: read back by a parser of the test's own. */
class GgufWriterTest {

    @TempDir
    Path dir;

    @Test
    void headerMetadataTensorInfosAndDataReadBack() throws IOException {
        float[] matrix = {1, 2, 3, 4, 5, 6};
        float[] vector = {0.5f, -1.25f, 65504f, 1e-7f, -0f}; // 10 bytes in F16: the next tensor needs padding
        float[] last = {7, 8, 9};
        Path file = dir.resolve("m.gguf");
        new GgufWriter()
                .putString("general.architecture", "llama")
                .putUint32("llama.block_count", 0xffff_fffeL)
                .putFloat32("llama.rope.freq_base", 10000.0)
                .putBool("tokenizer.ggml.add_bos_token", true)
                .putStrings("tokenizer.ggml.tokens", List.of("a", "Ġb", "<s>"))
                .putInt32s("tokenizer.ggml.token_type", new int[] {1, 1, 3})
                .addTensor("m.weight", new long[] {2, 3}, TensorType.F32, matrix)
                .addTensor("v.weight", new long[] {5}, TensorType.F16, vector)
                .addTensor("w.weight", new long[] {3}, TensorType.F32, last)
                .write(file);

        GgufReader r = new GgufReader(file);
        assertEquals(0x46554747, r.magic);
        assertEquals("GGUF", new String(Files.readAllBytes(file), 0, 4, StandardCharsets.US_ASCII));
        assertEquals(3, r.version);
        assertEquals(List.of("general.alignment", "general.architecture", "llama.block_count",
                "llama.rope.freq_base", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.tokens",
                "tokenizer.ggml.token_type"), List.copyOf(r.metadata.keySet()));
        assertEquals(32L, r.metadata.get("general.alignment"));
        assertEquals(4, r.metadataTypes.get("general.alignment")); // uint32
        assertEquals("llama", r.metadata.get("general.architecture"));
        assertEquals(0xffff_fffeL, r.metadata.get("llama.block_count"));
        assertEquals(6, r.metadataTypes.get("llama.rope.freq_base")); // float32
        assertEquals(10000f, r.metadata.get("llama.rope.freq_base"));
        assertEquals(true, r.metadata.get("tokenizer.ggml.add_bos_token"));
        assertEquals(List.of("a", "Ġb", "<s>"), r.metadata.get("tokenizer.ggml.tokens"));
        assertEquals(List.of(1, 1, 3), r.metadata.get("tokenizer.ggml.token_type"));

        GgufReader.TensorInfo m = r.tensors.get("m.weight");
        assertArrayEquals(new long[] {3, 2}, m.dims(), "ggml order: innermost dimension first");
        assertEquals(0, m.type());
        assertEquals(0, m.offset());
        GgufReader.TensorInfo v = r.tensors.get("v.weight");
        assertEquals(1, v.type());
        assertEquals(32, v.offset(), "24 bytes of F32 padded to the alignment");
        assertEquals(64, r.tensors.get("w.weight").offset(), "10 bytes of F16 padded to the alignment");
        assertEquals(0, r.dataStart % 32);
        assertEquals(r.dataStart + 64 + 32, r.fileSize, "the last tensor is padded too");

        assertArrayEquals(matrix, r.values("m.weight"));
        assertArrayEquals(new float[] {0.5f, -1.25f, 65504f, GgufReader.halfToFloat(SafeTensors.floatToHalf(1e-7f)), -0f},
                r.values("v.weight"));
        assertTrue(GgufReader.halfToFloat(SafeTensors.floatToHalf(1e-7f)) > 0, "subnormal half, not flushed to zero");
        assertArrayEquals(last, r.values("w.weight"));
    }

    @Test
    void refusesInconsistentInput() {
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama");
        assertThrows(IllegalArgumentException.class, () -> w.putString("general.architecture", "x"));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("t", new long[] {2, 2}, TensorType.F32,
                new float[3]));
        assertThrows(IllegalArgumentException.class, () -> w.putUint32("n", -1));
        assertThrows(IllegalArgumentException.class, () -> GgufWriter.permuteForRope(new float[6], 6, 1, 2));
    }

    @Test
    void permutationByHand() {
        // two heads of dimension 4: Hugging Face pairs rows (0,2), (1,3) in a head; llama.cpp wants them adjacent
        float[] rows = {0, 1, 2, 3, 4, 5, 6, 7};
        assertArrayEquals(new float[] {0, 2, 1, 3, 4, 6, 5, 7}, GgufWriter.permuteForRope(rows, 8, 1, 2));
        // one head of dimension 6 with two columns: row s*3 + j goes to 2j + s
        float[] wide = {0, 0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 4, 4.5f, 5, 5.5f};
        assertArrayEquals(new float[] {0, 0.5f, 3, 3.5f, 1, 1.5f, 4, 4.5f, 2, 2.5f, 5, 5.5f},
                GgufWriter.permuteForRope(wide, 6, 2, 1));
    }

    @Test
    void permutedRowsUnderAdjacentPairRopeEqualHuggingFaceRotateHalf() {
        int heads = 3;
        int headDim = 8;
        int columns = 5;
        int rows = heads * headDim;
        Random random = new Random(3);
        float[] w = new float[rows * columns];
        float[] x = new float[columns];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < columns; i++) {
            x[i] = (float) random.nextGaussian();
        }
        int position = 7;
        double theta = 10000;
        double[] hf = matVec(w, x, rows, columns);
        double[] gg = matVec(GgufWriter.permuteForRope(w, rows, columns, heads), x, rows, columns);
        for (int h = 0; h < heads; h++) {
            int base = h * headDim;
            for (int i = 0; i < headDim / 2; i++) {
                double angle = position * Math.pow(theta, -2.0 * i / headDim);
                double c = Math.cos(angle);
                double s = Math.sin(angle);
                // Hugging Face rotate_half: dimension i with i + d/2
                double a = hf[base + i];
                double b = hf[base + i + headDim / 2];
                double hfFirst = a * c - b * s;
                double hfSecond = b * c + a * s;
                // llama.cpp's Llama RoPE: dimensions 2i and 2i + 1
                double p = gg[base + 2 * i];
                double q = gg[base + 2 * i + 1];
                assertEquals(hfFirst, p * c - q * s, 1e-4);
                assertEquals(hfSecond, q * c + p * s, 1e-4);
            }
        }
    }

    private static double[] matVec(float[] w, float[] x, int rows, int columns) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < columns; c++) {
                y[r] += (double) w[r * columns + c] * x[c];
            }
        }
        return y;
    }

    @Test
    void bf16TensorsAreWrittenAsStoredAndPermutedInTheirBits() throws IOException {
        int heads = 2;
        int rows = 8;
        int columns = 3;
        Random random = new Random(5);
        short[] bits = new short[rows * columns];
        float[] widened = new float[bits.length];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = GgufWriter.floatToBfloat16((float) random.nextGaussian());
            widened[i] = Float.intBitsToFloat((bits[i] & 0xffff) << 16);
        }
        SafeTensors.StoredTensor q = new SafeTensors.StoredTensor(new long[] {rows, columns}, SafeTensors.DType.BF16,
                bits, null);
        SafeTensors.StoredTensor permuted = GgufWriter.permuteForRope(q, heads);
        assertArrayEquals(GgufWriter.permuteForRope(widened, rows, columns, heads),
                permuted.values(), "the same rows move whether values or their 16-bit patterns are permuted");
        Path file = dir.resolve("bf16.gguf");
        new GgufWriter()
                .addTensor("q.weight", permuted, TensorType.BF16)
                .addTensor("q16.weight", permuted, TensorType.F16)
                .addTensor("q32.weight", permuted, TensorType.F32)
                .write(file);
        GgufReader r = new GgufReader(file);
        assertEquals(30, r.tensors.get("q.weight").type());
        assertEquals(1, r.tensors.get("q16.weight").type());
        assertArrayEquals(permuted.values(), r.values("q.weight"), "BF16 written bit for bit");
        assertArrayEquals(permuted.values(), r.values("q32.weight"));
        assertEquals((short) 0x3f80, GgufWriter.floatToBfloat16(1f));
        assertEquals((short) 0x3f80, GgufWriter.floatToBfloat16(Float.intBitsToFloat(0x3f808000)), "a tie rounds to even");
        assertEquals((short) 0x3f82, GgufWriter.floatToBfloat16(Float.intBitsToFloat(0x3f818000)), "a tie rounds to even");
        assertEquals((short) 0x3f81, GgufWriter.floatToBfloat16(Float.intBitsToFloat(0x3f808001)));
    }

    @Test
    void byteFallbackBpeBecomesLlamaCppsSentencePieceVocabulary() throws IOException {
        Path tok = dir.resolve("tokenizer.json");
        Files.writeString(tok, "{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true},"
                + "{\"id\": 1, \"content\": \"<s>\", \"special\": true}, {\"id\": 2, \"content\": \"</s>\", \"special\": true}],"
                + "\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"unk_token\": \"<unk>\", \"vocab\": {\"<unk>\": 0,"
                + "\"<s>\": 1, \"</s>\": 2, \"<0x0A>\": 3, \"\u2581\": 4, \"a\": 5, \"b\": 6, \"\u2581a\": 7, \"ab\": 8},"
                + "\"merges\": [\"a b\", \"\u2581 a\"]}}", StandardCharsets.UTF_8);
        LlamaConfig config = LlamaConfig.builder().setHiddenSize(8).setIntermediateSize(16).setNumHiddenLayers(1)
                .setNumAttentionHeads(2).setVocabSize(10).optBosTokenId(1).optEosTokenId(2).build();
        GgufWriter w = new GgufWriter();
        LlamaGguf.addTokenizer(w, tok, config);
        Path file = dir.resolve("spm.gguf");
        w.write(file);
        GgufReader r = new GgufReader(file);
        assertEquals("llama", r.metadata.get("tokenizer.ggml.model"));
        assertEquals(List.of("<unk>", "<s>", "</s>", "<0x0A>", "\u2581", "a", "b", "\u2581a", "ab", "[PAD9]"),
                r.metadata.get("tokenizer.ggml.tokens"));
        assertEquals(List.of(2, 3, 3, 6, 1, 1, 1, 1, 1, 5), r.metadata.get("tokenizer.ggml.token_type"));
        // the first merge scores highest: llama.cpp merges the best-scoring pair first, as BPE's rank order says
        assertEquals(List.of(0f, 0f, 0f, 0f, 0f, 0f, 0f, -2f, -1f, 0f), r.metadata.get("tokenizer.ggml.scores"));
        assertEquals(0L, r.metadata.get("tokenizer.ggml.unknown_token_id"));
        assertEquals(1L, r.metadata.get("tokenizer.ggml.bos_token_id"));
        assertEquals(2L, r.metadata.get("tokenizer.ggml.eos_token_id"));
        assertFalse(r.metadata.containsKey("tokenizer.ggml.merges"));
    }

    @Test
    void embeddedDraftConvertsWithLlamaNamesTokenizerAndPermutedKeys() throws IOException {
        Path draft = repositoryRoot().resolve("models/draft");
        LlamaConfig config = LlamaConfig.read(draft);
        Map<String, SafeTensors.Tensor> hf = SafeTensors.read(draft.resolve("model.safetensors"));
        for (TensorType type : List.of(TensorType.F16, TensorType.F32)) { // the draft's F16 values are exact in both
            Path file = dir.resolve("draft-" + type + ".gguf");
            LlamaGguf.convert(draft, file, type);
            GgufReader r = new GgufReader(file);
            assertEquals("llama", r.metadata.get("general.architecture"));
            assertEquals(type == TensorType.F32 ? 0L : 1L, r.metadata.get("general.file_type"));
            assertEquals((long) config.numKeyValueHeads(), r.metadata.get("llama.attention.head_count_kv"));
            assertEquals((long) config.headDim(), r.metadata.get("llama.rope.dimension_count"));
            assertEquals("gpt2", r.metadata.get("tokenizer.ggml.model"));
            assertEquals("gpt-2", r.metadata.get("tokenizer.ggml.pre"));
            List<?> tokens = (List<?>) r.metadata.get("tokenizer.ggml.tokens");
            List<?> types = (List<?>) r.metadata.get("tokenizer.ggml.token_type");
            assertEquals(config.vocabSize(), tokens.size());
            assertEquals("<|endoftext|>", tokens.get(0));
            assertEquals("<s>", tokens.get(1));
            assertEquals(List.of(3, 3, 3, 3, 1), types.subList(0, 5), "added special tokens are control tokens");
            assertEquals(1L, r.metadata.get("tokenizer.ggml.bos_token_id"));
            assertEquals(0L, r.metadata.get("tokenizer.ggml.eos_token_id"));
            assertFalse(((List<?>) r.metadata.get("tokenizer.ggml.merges")).isEmpty());
            assertTrue(((String) ((List<?>) r.metadata.get("tokenizer.ggml.merges")).get(0)).contains(" "));

            assertEquals(hf.size(), r.tensors.size());
            assertFalse(r.tensors.containsKey("output.weight"), "tied embeddings: llama.cpp reuses token_embd");
            GgufReader.TensorInfo embd = r.tensors.get("token_embd.weight");
            assertArrayEquals(new long[] {config.hiddenSize(), config.vocabSize()}, embd.dims());
            assertEquals(type.id, embd.type());
            assertEquals(0, r.tensors.get("blk.0.attn_norm.weight").type(), "norms stay F32");
            for (GgufReader.TensorInfo t : r.tensors.values()) {
                assertEquals(0, t.offset() % 32, t.name());
            }
            assertArrayEquals(hf.get("model.layers.0.self_attn.v_proj.weight").values(),
                    r.values("blk.0.attn_v.weight"));
            SafeTensors.Tensor k = hf.get("model.layers.0.self_attn.k_proj.weight");
            float[] permuted = GgufWriter.permuteForRope(k.values(), (int) k.shape()[0], (int) k.shape()[1],
                    config.numKeyValueHeads());
            assertArrayEquals(permuted, r.values("blk.0.attn_k.weight"));
            int columns = (int) k.shape()[1];
            int half = config.headDim() / 2;
            // row 1 of llama.cpp's head 0 is Hugging Face's row d/2: the partner of row 0
            for (int c = 0; c < columns; c++) {
                assertEquals(k.values()[half * columns + c], r.values("blk.0.attn_k.weight")[columns + c]);
            }
        }
    }

    static Path repositoryRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("models/draft/config.json"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no models/draft/config.json above " + Path.of("").toAbsolutePath());
        }
        return p;
    }
}
