package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Each shaping field changes the output as it says, with speculation on, and speculation on gives what
 * target-only decoding gives under the same shaping.
 */
class LogitsShapingTest {

    private static final int[] PROMPT = {1, 40, 77, 12, 200, 9};
    private static KvCachePool targetPool;
    private static KvCachePool draftPool;

    @BeforeAll
    static void pools() {
        targetPool = TinyModels.target().newCachePool(2, 128);
        draftPool = TinyModels.draft().newCachePool(2, 128);
    }

    @AfterAll
    static void release() {
        targetPool.close();
        draftPool.close();
    }

    private static SpeculativeDecoder speculative() {
        return new SpeculativeDecoder(TinyModels.target(), targetPool, TinyModels.draft(), draftPool, null);
    }

    private static SpeculativeDecoder targetOnly() {
        return SpeculativeDecoder.targetOnly(TinyModels.target(), targetPool, null);
    }

    private static GenerationRequest request(int maxTokens, SamplingParams sampling, boolean ignoreEos, int k) {
        return new GenerationRequest(PROMPT, maxTokens, sampling, List.of(), ignoreEos, k);
    }

    private static SamplingParams greedy(LogitsShaping s) {
        return SamplingParams.GREEDY.withShaping(s);
    }

    private static LogitsShaping bias(int token, float value) {
        return LogitsShaping.of(new int[] {token}, new float[] {value}, 0, 0, 1, 0, 0, null);
    }

    /** Tokens that came before in the output. */
    private static int repeats(int[] tokens) {
        return tokens.length - (int) Arrays.stream(tokens).distinct().count();
    }

    /** Greedy with shaping: speculation on emits what target-only decoding emits, token for token. */
    private static int[] greedyBothWays(LogitsShaping s, int maxTokens, boolean ignoreEos) {
        int[] plain = targetOnly().generate(request(maxTokens, greedy(s), ignoreEos, 0)).tokens();
        GenerationResult spec = speculative().generate(request(maxTokens, greedy(s), ignoreEos, 3));
        assertTrue(spec.stats().draftTokens() > 0, "the run must have speculated");
        assertArrayEquals(plain, spec.tokens(), "speculation changed the shaped greedy output of " + s);
        return plain;
    }

    @Test
    void aNegativeBiasOnTheGreedyTokenChangesItAndAPositiveOneForcesAToken() {
        int[] free = greedyBothWays(LogitsShaping.NONE, 20, true);
        int[] banned = greedyBothWays(bias(free[0], -100), 20, true);
        assertNotEquals(free[0], banned[0]);
        assertTrue(Arrays.stream(banned).noneMatch(t -> t == free[0]), Arrays.toString(banned));
        int forced = 123;
        int[] all = greedyBothWays(bias(forced, 100), 20, true);
        assertTrue(Arrays.stream(all).allMatch(t -> t == forced), Arrays.toString(all));
    }

    @Test
    void frequencyAndPresencePenaltiesReduceRepeats() {
        int[] free = greedyBothWays(LogitsShaping.NONE, 60, true);
        assertTrue(repeats(free) >= 5, "the tiny target must repeat itself for this test: " + Arrays.toString(free));
        int[] frequency = greedyBothWays(LogitsShaping.of(null, null, 0, 2.0, 1, 0, 0, null), 60, true);
        assertTrue(repeats(frequency) < repeats(free), repeats(free) + " vs " + Arrays.toString(frequency));
        int[] presence = greedyBothWays(LogitsShaping.of(null, null, 10.0, 0, 1, 0, 0, null), 60, true);
        // a presence penalty of 10 outweighs every logit gap of the tiny target: no token comes twice
        assertEquals(0, repeats(presence), Arrays.toString(presence));
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOfSeenTokens() {
        LogitsShaping s = LogitsShaping.of(null, null, 0, 0, 2.0, 0, 0, null).bind(2, new int[0]);
        float[] logits = {3f, -1f, 2f, -4f, 5f};
        // tokens 0 and 1 in the prompt, 3 in the output: all three seen; 2 and 4 not
        float[] shaped = s.apply(logits, new int[] {0, 1, 3}, 3);
        assertArrayEquals(new float[] {1.5f, -2f, 2f, -8f, 5f}, shaped);
        assertArrayEquals(new float[] {3f, -1f, 2f, -4f, 5f}, logits, "the raw row is left as it was");
        int[] free = greedyBothWays(LogitsShaping.NONE, 60, true);
        int[] penalised = greedyBothWays(LogitsShaping.of(null, null, 0, 0, 3.0, 0, 0, null), 60, true);
        assertTrue(repeats(penalised) < repeats(free), repeats(free) + " vs " + Arrays.toString(penalised));
    }

    @Test
    void penaltiesCountTheOutputOnlyAndTheRepetitionPenaltyThePromptToo() {
        float[] logits = new float[6];
        int[] history = {2, 2, 4, 4, 4};
        float[] f = LogitsShaping.of(null, null, 0.5, 1.0, 1, 0, 0, null).bind(2, new int[0])
                .apply(logits, history, 5);
        assertArrayEquals(new float[] {0, 0, 0, 0, -3.5f, 0}, f, "token 2 is only in the prompt");
    }

    /** Builds a copy of the tiny target whose end-of-sequence token is {@code eos}. */
    private static LlamaModel targetWithEos(int eos) {
        LlamaConfig withEos = TinyModels.targetConfig().toBuilder().optEosTokenId(eos).build();
        return LlamaModel.of(LlamaWeights.fromHost(withEos, TinyModels.target().weights().toHost(), Path.of("copy"),
                TinyModels.manager()));
    }

    @Test
    void minTokensHoldsBackEosAndStopTokenIdsStopLikeEos() {
        int[] free = greedyBothWays(LogitsShaping.NONE, 40, true);
        int eos = free[4];
        int firstEos = 0;
        while (free[firstEos] != eos) {
            firstEos++;
        }
        try (LlamaModel target = targetWithEos(eos); KvCachePool pool = target.newCachePool(2, 128)) {
            SpeculativeDecoder dec = new SpeculativeDecoder(target, pool, TinyModels.draft(), draftPool, null);
            GenerationResult early = dec.generate(request(40, SamplingParams.GREEDY, false, 3));
            assertEquals(FinishReason.STOP, early.finishReason());
            assertEquals(firstEos, early.tokens().length);
            int min = firstEos + 12;
            LogitsShaping atLeast = LogitsShaping.of(null, null, 0, 0, 1, min, 0, null);
            GenerationResult held = dec.generate(request(40, greedy(atLeast), false, 3));
            assertTrue(held.tokens().length >= min, held.tokens().length + " tokens, min_tokens " + min);
            for (int i = 0; i < min; i++) {
                assertNotEquals(eos, held.tokens()[i], "EOS at " + i + " before min_tokens");
            }
            GenerationResult plain = SpeculativeDecoder.targetOnly(target, pool, null)
                    .generate(request(40, greedy(atLeast), false, 0));
            assertArrayEquals(plain.tokens(), held.tokens());
        }
        // the same token as a stop token id of the original target (whose EOS, 0, never comes greedily here)
        LogitsShaping stop = LogitsShaping.of(null, null, 0, 0, 1, 0, 0, new int[] {eos});
        GenerationResult stopped = speculative().generate(request(40, greedy(stop), true, 3));
        assertEquals(FinishReason.STOP, stopped.finishReason());
        assertArrayEquals(Arrays.copyOf(free, firstEos), stopped.tokens());
        LogitsShaping stopLater = LogitsShaping.of(null, null, 0, 0, 1, firstEos + 12, 0, new int[] {eos});
        GenerationResult later = speculative().generate(request(40, greedy(stopLater), true, 3));
        assertTrue(later.tokens().length >= firstEos + 12, "min_tokens holds back stop token ids too");
    }

    @Test
    void minPDropsTokensBelowItsShareOfTheMostLikely() {
        float[] logits = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15),
            (float) Math.log(0.05)};
        SamplingParams s = SamplingParams.sample(1, 0).withShaping(LogitsShaping.of(null, null, 0, 0, 1, 0, 0.2,
                null));
        double[] p = Sampler.distribution(logits, s);
        // threshold 0.2 × 0.5 = 0.1: token 3 goes, the rest renormalised over 0.95
        assertEquals(0.5 / 0.95, p[0], 1e-6);
        assertEquals(0.15 / 0.95, p[2], 1e-6);
        assertEquals(0, p[3]);
    }

    @Test
    void anUnboundShapingIsRefusedRatherThanAppliedWithoutItsHistory() {
        assertThrows(IllegalStateException.class, () -> bias(3, 1).apply(new float[8], new int[0], 0));
        assertThrows(IllegalArgumentException.class, () -> LogitsShaping.of(new int[] {4, 2}, new float[] {1, 1},
                0, 0, 1, 0, 0, null));
        assertThrows(IllegalArgumentException.class, () -> LogitsShaping.of(null, null, 0, 0, 0, 0, 0, null));
    }
}
