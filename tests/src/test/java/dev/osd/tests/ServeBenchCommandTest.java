package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.engine.SafeTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code osd bench serve} over a traffic file with a proposer chosen, on small real checkpoint directories. */
class ServeBenchCommandTest {

    @TempDir
    static Path dir;
    static Path target;
    static Path draft;
    static Path traffic;

    @BeforeAll
    static void models() throws IOException {
        target = ModelDirectories.write(dir.resolve("target"), ModelDirectories.target(), 5, SafeTensors.DType.F32);
        draft = ModelDirectories.write(dir.resolve("draft"), ModelDirectories.draft(), 6, SafeTensors.DType.F16);
        traffic = dir.resolve("traffic.jsonl");
        Files.writeString(traffic, """
                {"prompt": "SELECT name FROM t WHERE a > 1;"}
                {"messages": [{"role": "user", "content": "say it again"}]}
                {"prompt": "SELECT name FROM t WHERE a > 1; once more"}
                """);
    }

    @Test
    void servesTheTrafficFileWithTheProposerChosen() throws IOException {
        Path out = dir.resolve("serve");
        GenerateCommandTest.Run run = GenerateCommandTest.run("bench", "serve", "--model", target.toString(),
                "--draft", draft.toString(), "--traffic", traffic.toString(), "--proposer", "suffix",
                "--modes", "target_only,online", "--concurrency", "1", "--requests", "2", "--warmup", "2",
                "--max-tokens", "8", "--out", out.toString());
        assertEquals(0, run.code(), run.err());
        JsonObject summary = JsonParser.parseString(Files.readString(out.resolve("summary.json"))).getAsJsonObject();
        JsonObject setup = summary.getAsJsonObject("setup");
        assertEquals("suffix", setup.get("proposer").getAsString());
        assertEquals(3, setup.get("traffic_requests").getAsInt());
        assertEquals(2, setup.get("measured_lines_from").getAsInt());
        JsonObject c1 = summary.getAsJsonObject("concurrency").getAsJsonObject("1");
        for (String mode : new String[] {"target_only", "online"}) {
            assertEquals(2, c1.getAsJsonObject(mode).get("requests").getAsInt(), mode);
        }
    }

    @Test
    void badOptionsAreRefusedWithOneLine() {
        GenerateCommandTest.Run proposer = GenerateCommandTest.run("bench", "serve", "--model", target.toString(),
                "--draft", draft.toString(), "--proposer", "oracle", "--out", dir.resolve("x").toString());
        assertEquals(1, proposer.code());
        assertTrue(proposer.err().contains("proposer must be draft, suffix or both, not oracle"), proposer.err());
        GenerateCommandTest.Run missing = GenerateCommandTest.run("bench", "serve", "--model", target.toString(),
                "--draft", draft.toString(), "--traffic", dir.resolve("none.jsonl").toString(),
                "--out", dir.resolve("y").toString());
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("none.jsonl: no such file"), missing.err());
    }
}
