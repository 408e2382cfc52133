package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** echo's prompt log-probabilities: none for the first token, then each token under the row before it. */
class PromptLogprobsTest {

    @Test
    void eachPromptTokenIsScoredByThePositionBeforeIt() {
        int[] prompt = {1, 40, 77, 12};
        float[][] rows = CacheConsistencyTest.reference(TinyModels.target(), prompt);
        List<TokenLogprob> lps = TokenLogprob.promptLogprobs(Arrays.copyOf(rows, 3), prompt, 2);
        assertEquals(4, lps.size());
        assertNull(lps.get(0));
        for (int i = 1; i < 4; i++) {
            TokenLogprob expected = TokenLogprob.of(rows[i - 1], prompt[i], 2);
            assertEquals(prompt[i], lps.get(i).token());
            assertEquals(expected.logprob(), lps.get(i).logprob());
            assertEquals(2, lps.get(i).topTokens().length);
        }
        assertThrows(IllegalArgumentException.class, () -> TokenLogprob.promptLogprobs(rows, prompt, 0));
    }
}
