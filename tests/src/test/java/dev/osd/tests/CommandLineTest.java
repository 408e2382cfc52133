package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the command line says to a user who got something wrong: a port in use is one line before any model
 * loads, a missing model directory is said to be missing, {@code osd bench} alone lists the benchmarks.
 */
class CommandLineTest {

    @TempDir
    Path dir;

    @Test
    void aPortInUseIsOneLineBeforeTheModelsLoad() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();
            GenerateCommandTest.Run r = GenerateCommandTest.run("serve", "--port", Integer.toString(port));
            assertEquals(1, r.code(), r.out() + r.err());
            assertEquals("osd serve: --port " + port + ": 127.0.0.1:" + port
                    + " is in use (another server?); choose another port with --port", r.err().strip());
            assertFalse(r.out().contains("loading models"), r.out());
            GenerateCommandTest.Run node = GenerateCommandTest.run("node", "--roles", "gateway,target",
                    "--port", Integer.toString(port));
            assertEquals(1, node.code(), node.out() + node.err());
            assertTrue(node.err().strip().endsWith("is in use (another server?); choose another port with --port"),
                    node.err());
            assertEquals(1, node.err().strip().lines().count(), node.err());
        }
    }

    @Test
    void aMissingModelDirectoryIsSaidToBeMissing() throws Exception {
        Path missing = dir.resolve("no-such-model");
        GenerateCommandTest.Run serve = GenerateCommandTest.run("serve", "--port", "0", "--model", missing.toString());
        assertEquals(1, serve.code());
        assertEquals("osd serve: --model " + missing + ": no such directory", serve.err().strip());
        assertFalse(serve.out().contains("loading models"), serve.out());
        GenerateCommandTest.Run draft = GenerateCommandTest.run("generate", "--prompt", "x", "--draft",
                missing.toString());
        assertEquals(1, draft.code());
        assertEquals("osd generate: --draft " + missing + ": no such directory", draft.err().strip());
        Path file = Files.writeString(dir.resolve("model.safetensors"), "x");
        GenerateCommandTest.Run notDir = GenerateCommandTest.run("generate", "--prompt", "x", "--model",
                file.toString());
        assertEquals(1, notDir.code());
        assertTrue(notDir.err().contains("--model " + file + ": not a directory"), notDir.err());
    }

    @Test
    void benchAloneListsTheBenchmarks() {
        GenerateCommandTest.Run r = GenerateCommandTest.run("bench");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Usage: osd bench"), r.out());
        for (String command : new String[] {"engine", "models", "online", "serve", "cluster", "peers"}) {
            assertTrue(r.out().contains("\n  " + command + " "), command + " in\n" + r.out());
        }
    }
}
