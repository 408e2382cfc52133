package dev.osd.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class TokenLogprobTest {

    @Test
    void logprobsAreTheLogSoftmaxOfTheRawLogitsWithTheMostLikelyFirst() {
        float[] logits = {1f, 3f, 2f, -1f};
        double logZ = Math.log(Math.exp(1) + Math.exp(3) + Math.exp(2) + Math.exp(-1));
        TokenLogprob lp = TokenLogprob.of(logits, 0, 2);
        assertEquals(0, lp.token());
        assertEquals(1 - logZ, lp.logprob(), 1e-6);
        assertArrayEquals(new int[] {1, 2}, lp.topTokens());
        assertEquals(3 - logZ, lp.topLogprobs()[0], 1e-6);
        assertEquals(2 - logZ, lp.topLogprobs()[1], 1e-6);
        assertEquals(0, TokenLogprob.of(logits, 3, 0).topTokens().length);
        // large logits do not overflow
        assertEquals(0, TokenLogprob.of(new float[] {1000f, -1000f}, 0, 1).logprob(), 1e-6);
    }
}
