package dev.osd.drafts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.osd.engine.CheckpointException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DraftCheckpointStoreTest {

    static NDManager manager;

    @TempDir
    Path dir;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private DraftCheckpointStore storeWith(int keep, long... versions) throws IOException {
        DraftCheckpointStore store = new DraftCheckpointStore(dir.resolve("sql"), "sql", keep);
        for (long v : versions) {
            try (DraftVersion version = LiveDraftTest.constantVersion(manager, "sql", v)) {
                store.save(version, null);
            }
        }
        return store;
    }

    private static long loadedNumber(DraftCheckpointStore store) throws IOException {
        DraftCheckpointStore.Stored s = store.loadNewest(manager).orElseThrow();
        try (DraftVersion v = store.toVersion(s)) {
            assertEquals(v.version(), s.manifest().version());
            float first = v.model().weights().get("model.norm.weight").toFloatArray()[0];
            assertEquals(v.version(), first, "the weights of the version the manifest names");
            return v.version();
        }
    }

    @Test
    void roundTripKeepsEveryWeightAndTheChecksum() throws IOException {
        DraftCheckpointStore store = storeWith(3, 1);
        try (DraftVersion original = LiveDraftTest.constantVersion(manager, "sql", 1);
                DraftVersion loaded = store.toVersion(store.load(1, manager))) {
            assertEquals(original.checksum(), loaded.checksum());
            for (String name : original.model().weights().tensors().keySet()) {
                assertArrayEquals(original.model().weights().get(name).toFloatArray(),
                        loaded.model().weights().get(name).toFloatArray(), name);
            }
            assertEquals(0, loaded.parent());
        }
    }

    @Test
    void keepsOnlyTheNewestVersions() throws IOException {
        DraftCheckpointStore store = storeWith(3, 1, 2, 3, 4, 5);
        assertEquals(List.of(5L, 4L, 3L), store.versions());
        assertTrue(!Files.exists(store.weightsFile(1)));
        assertEquals(5, loadedNumber(store));
    }

    @Test
    void aWriteKilledHalfwayLeavesThePreviousVersionInCharge() throws IOException {
        DraftCheckpointStore store = storeWith(5, 1, 2);
        // what a kill can leave: half a temporary weights file, weights renamed without their manifest, half
        // a temporary manifest
        byte[] whole = Files.readAllBytes(store.weightsFile(2));
        Files.write(store.dir().resolve("v00000004.safetensors.tmp"), Arrays.copyOf(whole, whole.length / 2));
        Files.write(store.weightsFile(3), whole);
        Files.writeString(store.dir().resolve("v00000003.json.tmp"), "{\"draft\": \"sql\", \"vers");
        assertEquals(List.of(2L, 1L), store.versions());
        assertEquals(2, loadedNumber(store));
        // and the next save goes on from there
        try (DraftVersion v = LiveDraftTest.constantVersion(manager, "sql", 3)) {
            store.save(v, null);
        }
        assertEquals(3, loadedNumber(store));
    }

    @Test
    void aCorruptedVersionIsRefusedAndTheNextOlderLoads() throws IOException {
        DraftCheckpointStore store = storeWith(5, 1, 2, 3);
        try (RandomAccessFile f = new RandomAccessFile(store.weightsFile(3).toFile(), "rw")) {
            f.seek(f.length() - 10);
            f.write(0x7f);
        }
        CheckpointException e = assertThrows(CheckpointException.class, () -> store.load(3, manager));
        assertTrue(e.getMessage().contains("checksum mismatch") && e.getMessage().contains("v00000003.safetensors"),
                e.getMessage());
        // truncated, with a manifest that says otherwise
        Files.write(store.weightsFile(2), Arrays.copyOf(Files.readAllBytes(store.weightsFile(2)), 100));
        assertTrue(assertThrows(CheckpointException.class, () -> store.load(2, manager)).getMessage()
                .contains("bytes"));
        assertEquals(1, loadedNumber(store));
        // a manifest that is not JSON
        Files.writeString(store.manifestFile(1), "not json");
        assertTrue(store.loadNewest(manager).isEmpty());
    }

    @Test
    void aStoreNeedsToKeepSomething() {
        assertThrows(IllegalArgumentException.class, () -> new DraftCheckpointStore(dir, "sql", 0));
    }
}
