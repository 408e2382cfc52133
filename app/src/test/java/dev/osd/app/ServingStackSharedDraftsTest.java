package dev.osd.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.osd.actors.ServingSystem;
import dev.osd.drafts.DraftVersion;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaModel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every draft of a stack serves the one base draft until a trainer publishes a version of its own. */
class ServingStackSharedDraftsTest {

    @Test
    void draftsServeTheBaseItselfUntilOnePublishesAndClosingItLeavesTheBaseToItsOwner() throws Exception {
        // the embedded models, from the repository root (Surefire runs in app/)
        Path models0 = Path.of("").toAbsolutePath().getParent().resolve("models");
        try (ModelPair models = ModelPair.open(models0.resolve("target"), models0.resolve("draft"))) {
            LlamaModel base = models.draft();
            ServingStack stack = new ServingStack("shared-drafts", models,
                    new ServingStack.Options(true, true, null, ServingSystem.Settings.defaults(), null));
            DraftVersion own;
            String moved;
            try {
                stack.awaitReady(Duration.ofSeconds(120));
                Map<String, ServingSystem.Draft> drafts = stack.system().drafts();
                assertTrue(drafts.size() >= 2, drafts.keySet().toString());
                for (ServingSystem.Draft d : drafts.values()) {
                    try (DraftVersion v = d.live().acquire()) {
                        assertSame(base, v.model(), d.name());
                        assertFalse(v.ownsModel());
                    }
                    assertNotNull(d.trainer(), d.name());
                }
                // neither the drafts nor their trainers made float32 copies of the base (read only when trained)
                assertFalse(base.hasDjlWeights());

                moved = drafts.keySet().iterator().next();
                ServingSystem.Draft first = drafts.get(moved);
                own = new DraftVersion(moved, first.live().nextVersion(), 0,
                        LlamaModel.of(base.weights().copy(models.manager())));
                first.live().publish(own);
                for (ServingSystem.Draft d : drafts.values()) {
                    try (DraftVersion v = d.live().acquire()) {
                        assertSame(d.name().equals(moved) ? own.model() : base, v.model(), d.name());
                    }
                }
            } finally {
                stack.close();
            }
            // the stack freed the published version with its model, and left the base to the pair that owns it
            assertTrue(own.freed(), moved);
            for (NDArray a : base.weights().tensors().values()) {
                assertEquals(a.size(), a.toFloatArray().length);
            }
            try (KvCachePool pool = base.newCachePool(1); KvCache cache = pool.acquire()) {
                assertEquals(base.config().vocabSize(), base.forward(cache, new int[] {1, 2, 3}, 1)[0].length);
            }
        }
    }
}
