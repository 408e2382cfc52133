package dev.osd.drafts;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A store that another JVM ({@link StoreWriter}) was killed while writing still loads its newest whole version. */
class DraftCheckpointStoreKillIT {

    @TempDir
    Path dir;

    @Test
    void aWriterProcessKilledMidWriteLeavesALoadableStore() throws Exception {
        Path store = dir.resolve("killed");
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int attempt = 0; attempt < 3; attempt++) {
                Process writer = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp", System.getProperty("java.class.path"), "-Dai.djl.offline=true",
                        StoreWriter.class.getName(), store.toString()).redirectErrorStream(true).start();
                int saved = 0;
                try {
                    BufferedReader out = new BufferedReader(new InputStreamReader(writer.getInputStream(),
                            StandardCharsets.UTF_8));
                    // a writer that dies ends its output, so this ends too
                    for (String line = out.readLine(); line != null && saved < 2 + attempt; line = out.readLine()) {
                        if (line.startsWith("saved ")) {
                            saved++;
                        }
                    }
                    // not a wait for something: the kill lands at a different point of the next save each attempt
                    Thread.sleep(7L * attempt + 3);
                } finally {
                    writer.destroyForcibly().waitFor();
                }
                assertTrue(saved >= 2, "the writer saved versions before it was killed");
                DraftCheckpointStore reader = new DraftCheckpointStore(store, "killed", 3);
                DraftCheckpointStore.Stored newest = reader.loadNewest(manager).orElseThrow();
                newest.weights().close();
                assertTrue(newest.manifest().version() >= 1);
            }
        }
    }
}
