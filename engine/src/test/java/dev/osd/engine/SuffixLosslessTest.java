package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** With the suffix proposer, greedy output is target-only greedy decoding token for token. */
class SuffixLosslessTest {

    private static final int TOKENS = 64;
    private static KvCachePool targetPool;
    private static KvCachePool draftPool;
    private static final List<int[]> prompts = new ArrayList<>();
    private static final List<int[]> expected = new ArrayList<>();

    @BeforeAll
    static void targetOnly() {
        LlamaModel target = TinyModels.target();
        targetPool = target.newCachePool(2, 200);
        draftPool = TinyModels.draft().newCachePool(2, 200);
        SpeculativeDecoder plain = SpeculativeDecoder.targetOnly(target, targetPool, null);
        for (int i = 0; i < 12; i++) {
            // each prompt twice, the second time after its answer was served: repeated traffic
            int[] prompt = CacheConsistencyTest.randomTokens(300 + i % 6, 4 + i % 6 * 5, 257);
            prompt[0] = 1;
            prompts.add(prompt);
            expected.add(plain.generate(request(prompt, 0)).tokens());
        }
    }

    @AfterAll
    static void release() {
        targetPool.close();
        draftPool.close();
    }

    private static GenerationRequest request(int[] prompt, int k) {
        return new GenerationRequest(prompt, TOKENS, SamplingParams.GREEDY, List.of(), true, k);
    }

    private static void servesTargetTokens(SuffixProposer.Mode mode) {
        SuffixProposer proposer = new SuffixProposer(mode, 4096, 16);
        SpeculativeDecoder spec = new SpeculativeDecoder(TinyModels.target(), targetPool, TinyModels.draft(),
                draftPool, null).withSuffix(proposer);
        int suffixRounds = 0;
        int suffixAccepted = 0;
        for (int i = 0; i < prompts.size(); i++) {
            GenerationResult r = spec.generate(request(prompts.get(i), 3));
            assertArrayEquals(expected.get(i), r.tokens(), mode + ", prompt " + i);
            SpeculationStats.ProposerFigures f = r.stats().byProposer().get("suffix");
            if (f != null && i >= 6) {
                suffixRounds += f.rounds();
                suffixAccepted += f.accepted();
            }
            int rounds = r.stats().byProposer().values().stream().mapToInt(SpeculationStats.ProposerFigures::rounds)
                    .sum();
            assertEquals(r.stats().rounds(), rounds, "every round has its proposer");
        }
        // the repeated prompts' answers were served before: the suffix proposes them in long runs
        assertTrue(suffixRounds > 0 && suffixAccepted >= 4 * suffixRounds,
                mode + ": suffix rounds " + suffixRounds + ", accepted " + suffixAccepted);
    }

    @Test
    void suffixAloneChangesNothingButSpeed() {
        servesTargetTokens(SuffixProposer.Mode.SUFFIX);
    }

    @Test
    void bothProposersChangeNothingButSpeed() {
        servesTargetTokens(SuffixProposer.Mode.BOTH);
    }
}
