package dev.osd.distillation;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculationRound;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class OnlineDistillerTest {

    @ParameterizedTest
    @ValueSource(strings = {"fkl", "rkl", "jsd", "tvd"})
    void updatesOnABufferLowerTheDivergenceOnThatBuffer(String name) {
        List<DistillationRecord> records = new ArrayList<>();
        for (SpeculationRound r : RecordAlignmentTest.rounds(SamplingParams.sample(1.0, 4), 4, 3)) {
            records.add(DistillationRecord.of(r, RecordPolicy.ALL_VERIFIED, 0));
        }
        Divergence d = Divergence.parse(name);
        try (OnlineDistiller distiller = new OnlineDistiller(TinyPair.draft().weights(), d, 3e-3, 1.0, 0)) {
            double before = distiller.loss(records);
            double acceptanceBefore = Evaluation.expectedAcceptance(TinyPair.draft(), records);
            for (int step = 0; step < 20; step++) {
                distiller.update(records);
            }
            double after = distiller.loss(records);
            assertTrue(after < before * 0.9, name + ": " + before + " -> " + after);
            try (var snapshot = dev.osd.engine.LlamaModel.of(distiller.snapshot(TinyPair.manager()))) {
                double acceptanceAfter = Evaluation.expectedAcceptance(snapshot, records);
                assertTrue(acceptanceAfter > acceptanceBefore, name + " raises expected acceptance: "
                        + acceptanceBefore + " -> " + acceptanceAfter);
            }
        }
    }
}
