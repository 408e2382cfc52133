package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GenerationConfigTest {

    @TempDir
    Path dir;

    private final LlamaConfig model = LlamaConfig.builder()
            .setHiddenSize(64).setIntermediateSize(128).setNumHiddenLayers(1).setNumAttentionHeads(4)
            .optNumKeyValueHeads(2).setVocabSize(128256).optMaxPositionEmbeddings(256)
            .optTieWordEmbeddings(true).optBosTokenId(128000).optEosTokenId(128001).build();

    @Test
    void eosListAndSamplingDefaultsOfLlama31Instruct() throws IOException {
        Files.writeString(dir.resolve(GenerationConfig.FILE_NAME), """
                {"bos_token_id": 128000, "do_sample": true, "eos_token_id": [128001, 128008, 128009],
                 "temperature": 0.6, "top_p": 0.9, "transformers_version": "4.42.3"}""");
        GenerationConfig g = GenerationConfig.read(dir, model);
        assertEquals(List.of(128001, 128008, 128009), g.eosTokenIds());
        assertTrue(g.isEos(128009));
        assertFalse(g.isEos(128000));
        assertEquals(128000, g.bosTokenId());
        assertEquals(new SamplingParams(0.6, 50, 0.9, 3), g.defaultSampling(3));
        assertNull(g.maxNewTokens());
    }

    @Test
    void anIntEosAndGreedyByDefault() throws IOException {
        Files.writeString(dir.resolve(GenerationConfig.FILE_NAME),
                "{\"bos_token_id\": 1, \"eos_token_id\": 2, \"pad_token_id\": 0, \"max_length\": 2048}");
        GenerationConfig g = GenerationConfig.read(dir, model);
        assertEquals(List.of(2), g.eosTokenIds());
        assertEquals(0, g.padTokenId());
        assertEquals(2048, g.maxLength());
        assertEquals(SamplingParams.GREEDY, g.defaultSampling(0));
    }

    @Test
    void withoutTheFileTheModelConfigsTokensAreUsed() throws IOException {
        Files.writeString(dir.resolve(LlamaConfig.FILE_NAME), "{\"bos_token_id\": 128000, \"eos_token_id\": [128001, 128009]}");
        GenerationConfig g = GenerationConfig.read(dir, model);
        assertEquals(List.of(128001, 128009), g.eosTokenIds());
        assertFalse(g.doSample());
    }

    @Test
    void writtenFileReadsBack() throws IOException {
        GenerationConfig g = new GenerationConfig(1, List.of(2), -1, true, 0.7, 0.95, 40, 256, null, null);
        g.write(dir);
        assertEquals(g, GenerationConfig.read(dir, model));
        String text = Files.readString(dir.resolve(GenerationConfig.FILE_NAME));
        assertTrue(text.contains("\"eos_token_id\": 2,"), text);
    }

    @Test
    void refusalsNameTheFileAndTheField() throws IOException {
        String[][] cases = {
            {"{\"eos_token_id\": \"</s>\"}", "eos_token_id"},
            {"{\"eos_token_id\": [2, 300000]}", "eos_token_id"},
            {"{\"eos_token_id\": 2.5}", "eos_token_id"},
            {"{\"top_p\": 1.5}", "top_p"},
            {"{\"temperature\": -1}", "temperature"},
            {"{\"top_k\": \"many\"}", "top_k"},
            {"{\"do_sample\": 1}", "do_sample"},
        };
        for (String[] c : cases) {
            Files.writeString(dir.resolve(GenerationConfig.FILE_NAME), c[0]);
            CheckpointException e = assertThrows(CheckpointException.class, () -> GenerationConfig.read(dir, model), c[0]);
            assertEquals(c[1], e.item(), c[0]);
            assertEquals(dir.resolve(GenerationConfig.FILE_NAME), e.file());
        }
    }
}
