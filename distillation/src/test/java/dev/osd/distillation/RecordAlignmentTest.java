package dev.osd.distillation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.osd.engine.GenerationListener;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculationRound;
import dev.osd.engine.SpeculativeDecoder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The loss must sit on the draft distribution that made the mistake. A record's position i scores proposal
 * j of its round; re-running the draft over the record's tokens must give, at that position, exactly the q the
 * draft proposed from (and one position later, something else: the prototype's off-by-one).
 */
class RecordAlignmentTest {

    static List<SpeculationRound> rounds(SamplingParams sampling, int k, int prompts) {
        LlamaModel target = TinyPair.target();
        LlamaModel draft = TinyPair.draft();
        List<SpeculationRound> rounds = new ArrayList<>();
        try (KvCachePool tp = target.newCachePool(1); KvCachePool dp = draft.newCachePool(1)) {
            // whole q rows, so that each can be compared with the draft's recomputed distribution
            SpeculativeDecoder decoder = new SpeculativeDecoder(target, tp, draft, dp, null).withProposalTopN(0);
            for (int i = 0; i < prompts; i++) {
                int[] prompt = {1, 5 + i, 9 + 2 * i, 30 + i};
                decoder.generate(new GenerationRequest(prompt, 24, sampling, null, true, k), new GenerationListener() {
                    @Override
                    public void onRound(SpeculationRound round) {
                        rounds.add(round);
                    }
                });
            }
        }
        return rounds;
    }

    private static double[] draftDistribution(int[] tokens, int position) {
        try (NDManager scope = TinyPair.manager().newSubManager()) {
            long[] ids = Arrays.stream(tokens).asLongStream().toArray();
            NDArray logits = TinyPair.draft().sequenceLogits(scope.create(ids).reshape(1, ids.length));
            return logits.get(0, position).softmax(-1).toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
        }
    }

    private static double maxDiff(double[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    @Test
    void eachRecordedPositionIsTheDistributionThatProposed() {
        List<SpeculationRound> rounds = rounds(SamplingParams.sample(1.0, 5), 4, 6);
        int mistakes = 0;
        int checkedShift = 0;
        for (SpeculationRound round : rounds) {
            DistillationRecord all = DistillationRecord.of(round, RecordPolicy.ALL_VERIFIED, 0);
            int m = round.verification().accepted();
            assertEquals(m + 1, all.positions().length);
            for (int i = 0; i < all.positions().length; i++) {
                int j = i; // ALL_VERIFIED starts at proposal 0
                // the target part: the record keeps the target's distribution of that proposal position
                assertTrue(maxDiff(toDouble(all.targets()[i].probs()), round.p()[j]) < 1e-5);
                if (j < round.q().length) {
                    double[] recomputed = draftDistribution(all.tokens(), all.positions()[i]);
                    assertTrue(maxDiff(recomputed, round.q()[j].dense(round.p()[j].length)) < 1e-4, "position " + j + " of a round: "
                            + maxDiff(recomputed, round.q()[j].dense(round.p()[j].length)));
                    if (all.positions()[i] + 1 < all.tokens().length) {
                        double[] shifted = draftDistribution(all.tokens(), all.positions()[i] + 1);
                        assertTrue(maxDiff(shifted, round.q()[j].dense(round.p()[j].length)) > 1e-3, "one position later is another distribution");
                        checkedShift++;
                    }
                }
            }
            DistillationRecord mistake = DistillationRecord.of(round, RecordPolicy.MISTAKES_ONLY, 0);
            assertEquals(1, mistake.positions().length);
            assertEquals(all.positions()[m], mistake.positions()[0]);
            if (m < round.proposal().length) {
                mistakes++;
                // the draft proposed the rejected token from exactly this distribution
                double[] q = draftDistribution(mistake.tokens(), mistake.positions()[0]);
                assertTrue(maxDiff(q, round.q()[m].dense(q.length)) < 1e-4);
                assertTrue(round.q()[m].probability(round.proposal()[m]) > 0);
            }
        }
        assertTrue(mistakes > 10 && checkedShift > 10, mistakes + " mistakes, " + checkedShift + " shifts checked");
    }

    @Test
    void atTemperatureZeroTheMistakeTargetsTheTokenTheTargetEmitted() {
        for (SpeculationRound round : rounds(SamplingParams.GREEDY, 3, 4)) {
            DistillationRecord r = DistillationRecord.of(round, RecordPolicy.MISTAKES_ONLY, 0);
            // the record learns from the raw target distribution, whose argmax is the correction (or bonus)
            assertEquals(round.verification().correction(), r.targets()[0].argmax());
            assertEquals(round.context().length + round.verification().accepted(), r.tokens().length);
        }
    }

    @Test
    void topNKeepsTheLargestProbabilitiesAndTheRestMass() {
        SpeculationRound round = rounds(SamplingParams.sample(1.0, 9), 2, 1).get(0);
        TargetDistribution full = DistillationRecord.of(round, RecordPolicy.MISTAKES_ONLY, 0).targets()[0];
        TargetDistribution top = DistillationRecord.of(round, RecordPolicy.MISTAKES_ONLY, 8).targets()[0];
        assertEquals(8, top.ids().length);
        double kept = 0;
        for (int i = 0; i < 8; i++) {
            assertEquals(full.probability(top.ids()[i]), top.probs()[i], 1e-7);
            kept += top.probs()[i];
        }
        assertEquals(1 - kept, top.rest(), 1e-6);
        assertEquals(full.argmax(), top.argmax());
    }

    /**
     * The target actor builds every verified position at its own top N; a trainer keeps what its settings say:
     * the same record as building it under that policy and N directly.
     */
    @Test
    void aTargetBuiltRecordRestrictedToATrainersSettingsIsTheRecordItWouldBuild() {
        for (SpeculationRound round : rounds(SamplingParams.sample(1.0, 11), 3, 3)) {
            DistillationRecord built = DistillationRecord.of(round.context(), round.proposal(),
                    round.verification().accepted(), round.targetLogits(), RecordPolicy.ALL_VERIFIED, 16);
            for (RecordPolicy policy : RecordPolicy.values()) {
                for (int n : new int[] {0, 16, 4}) {
                    DistillationRecord want = DistillationRecord.of(round, policy, n == 0 ? 16 : n);
                    DistillationRecord got = built.restrictedTo(policy, n);
                    assertArrayEquals(want.tokens(), got.tokens());
                    assertArrayEquals(want.positions(), got.positions(), policy + " top " + n);
                    for (int i = 0; i < want.targets().length; i++) {
                        assertArrayEquals(want.targets()[i].ids(), got.targets()[i].ids());
                        assertArrayEquals(want.targets()[i].probs(), got.targets()[i].probs(), 1e-7f);
                        assertEquals(want.targets()[i].rest(), got.targets()[i].rest(), 1e-5);
                    }
                }
            }
        }
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
