package dev.osd.drafts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.osd.engine.KvCache;
import dev.osd.engine.KvCachePool;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class LiveDraftTest {

    static final NDManager MANAGER = NDManager.newBaseManager();
    static final LlamaConfig CONFIG = LlamaConfig.builder()
            .setHiddenSize(16).setIntermediateSize(32).setNumHiddenLayers(1).setNumAttentionHeads(2)
            .optRmsNormEps(1e-6).setVocabSize(32).optMaxPositionEmbeddings(64).optTieWordEmbeddings(true)
            .optBosTokenId(1).optEosTokenId(0).build();

    @AfterAll
    static void close() {
        MANAGER.close();
    }

    /** A version whose every weight equals its version, so a mixture of two versions shows. */
    static DraftVersion constantVersion(String draft, long version) {
        return constantVersion(MANAGER, draft, version);
    }

    static DraftVersion constantVersion(NDManager manager, String draft, long version) {
        return new DraftVersion(draft, version, version - 1, constantModel(manager, version));
    }

    static LlamaModel constantModel(NDManager manager, float value) {
        LlamaWeights w = LlamaWeights.random(CONFIG, 1, 0.1, manager);
        for (NDArray a : w.tensors().values()) {
            a.set(new float[(int) a.size()]);
            a.addi(value);
        }
        return LlamaModel.of(w);
    }

    /** Whether {@code model} is open and still has weights equal to {@code value}; a closed one throws. */
    static void assertServes(LlamaModel model, float value) {
        for (NDArray a : model.weights().tensors().values()) {
            for (float x : a.toFloatArray()) {
                assertEquals(value, x, model + " holds " + x);
            }
        }
    }

    @Test
    void readersNeverSeeAPartialOrFreedVersionWhileVersionsAreSwapped() throws Exception {
        LiveDraft live = new LiveDraft(constantVersion("d", 0));
        AtomicBoolean done = new AtomicBoolean();
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        AtomicLong reads = new AtomicLong();
        List<Thread> readers = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            Thread reader = new Thread(() -> {
                long lastSeen = -1;
                while (!done.get()) {
                    try (DraftVersion v = live.acquire()) {
                        if (v.version() < lastSeen) {
                            problems.add("version went back from " + lastSeen + " to " + v.version());
                        }
                        lastSeen = v.version();
                        for (NDArray a : v.model().weights().tensors().values()) {
                            for (float x : a.toFloatArray()) {
                                if (x != v.version()) {
                                    problems.add(v + " holds " + x);
                                    break;
                                }
                            }
                        }
                        reads.incrementAndGet();
                    } catch (RuntimeException e) {
                        problems.add(e.toString());
                    }
                }
            });
            reader.start();
            readers.add(reader);
        }
        List<DraftVersion> published = new ArrayList<>();
        for (long n = 1; n <= 300; n++) {
            DraftVersion v = constantVersion("d", n);
            published.add(v);
            live.publish(v);
        }
        done.set(true);
        for (Thread r : readers) {
            r.join();
        }
        assertTrue(problems.isEmpty(), problems.toString());
        assertTrue(reads.get() > 100, "reads " + reads.get());
        assertEquals(300, live.version());
        // every replaced version was freed once its readers let go; the current one is alive
        for (int i = 0; i < published.size() - 1; i++) {
            assertTrue(published.get(i).freed(), published.get(i) + " still held");
        }
        assertTrue(!published.get(published.size() - 1).freed());
        live.close();
        assertTrue(published.get(published.size() - 1).freed());
    }

    @Test
    void draftsSharingTheBaseKeepServingItWhileOneMovesOnAndCloses() {
        LlamaModel base = constantModel(MANAGER, 0.5f);
        LiveDraft a = new LiveDraft(DraftVersion.sharing("a", 0, -1, base));
        LiveDraft b = new LiveDraft(DraftVersion.sharing("b", 0, -1, base));
        LiveDraft c = new LiveDraft(DraftVersion.sharing("c", 0, -1, base));
        DraftVersion aBase = a.acquire();
        aBase.close();
        DraftVersion inFlight = b.acquire(); // a request of b's, served from the base throughout
        DraftVersion aOwn = constantVersion("a", 1);
        a.publish(aOwn);
        // a's base version is freed, the base model is not: b and c still serve it
        assertTrue(aBase.freed());
        assertEquals(1, a.version());
        assertEquals(0, b.version());
        assertEquals(0, c.version());
        assertServes(base, 0.5f);
        try (DraftVersion v = c.acquire()) {
            assertTrue(v.model() == base);
            assertTrue(!v.ownsModel());
        }
        a.close();
        // a's own version was its to free, with its model
        assertTrue(aOwn.freed());
        assertThrows(RuntimeException.class, () -> assertServes(aOwn.model(), 1));
        assertServes(inFlight.model(), 0.5f);
        try (KvCachePool pool = base.newCachePool(1); KvCache cache = pool.acquire()) {
            float[][] logits = base.forward(cache, new int[] {1, 2, 3}, 1);
            assertEquals(CONFIG.vocabSize(), logits[0].length);
        }
        inFlight.close();
        b.close();
        c.close();
        // every sharing version is freed; the base is its owner's to close
        assertServes(base, 0.5f);
        base.close();
        assertThrows(RuntimeException.class, () -> assertServes(base, 0.5f));
    }

    @Test
    void versionsMustBeNewerAndOfTheSameDraft() {
        try (LiveDraft live = new LiveDraft(constantVersion("d", 3))) {
            DraftVersion old = constantVersion("d", 3);
            assertThrows(IllegalArgumentException.class, () -> live.publish(old));
            old.close();
            DraftVersion other = constantVersion("e", 4);
            assertThrows(IllegalArgumentException.class, () -> live.publish(other));
            other.close();
            assertEquals(4, live.nextVersion());
        }
    }

    @Test
    void checksumsDependOnEveryWeight() {
        try (DraftVersion a = constantVersion("d", 1); DraftVersion b = constantVersion("d", 1);
                DraftVersion c = constantVersion("d", 2)) {
            assertEquals(a.checksum(), b.checksum());
            assertTrue(!a.checksum().equals(c.checksum()));
        }
    }
}
