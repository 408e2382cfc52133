package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.engine.SafeTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code osd bench online} end to end on small real checkpoint directories: files, figures, refusals. */
class OnlineBenchCommandTest {

    @TempDir
    static Path dir;
    static Path target;
    static Path draft;

    @BeforeAll
    static void models() throws IOException {
        target = ModelDirectories.write(dir.resolve("target"), ModelDirectories.target(), 5, SafeTensors.DType.F32);
        draft = ModelDirectories.write(dir.resolve("draft"), ModelDirectories.draft(), 6, SafeTensors.DType.F16);
    }

    @Test
    void writesAlphaCsvSummaryPlotsAndDraftVersions() throws IOException {
        Path out = dir.resolve("online");
        GenerateCommandTest.Run run = GenerateCommandTest.run("bench", "online", "--model", target.toString(),
                "--draft", draft.toString(), "--requests", "6", "--classes", "sql,code", "--max-tokens", "16",
                "--interval", "2", "--replay", "2", "--probe", "2", "--out", out.toString());
        assertEquals(0, run.code(), run.err());
        List<String> csv = Files.readAllLines(out.resolve("alpha.csv"));
        assertEquals(1 + 12, csv.size());
        assertTrue(csv.get(0).startsWith("request,class,draft,draft_version,alpha,static_alpha"));
        JsonObject summary = JsonParser.parseString(Files.readString(out.resolve("summary.json"))).getAsJsonObject();
        for (String c : List.of("sql", "code")) {
            JsonObject f = summary.getAsJsonObject("classes").getAsJsonObject(c);
            assertEquals(6, f.get("requests").getAsInt());
            for (String key : List.of("alpha_start", "alpha_end", "static_alpha_end", "alpha_probe")) {
                double v = f.get(key).getAsDouble();
                assertTrue(v >= 0 && v <= 1, c + " " + key + " " + v);
            }
        }
        // the shape: every key present, null where the run was too short to have it
        assertTrue(summary.getAsJsonObject("classes").getAsJsonObject("sql").get("alpha_500").isJsonNull());
        assertTrue(summary.get("updates").getAsLong() >= 1, "the drafts were updated");
        assertTrue(summary.get("seconds").getAsDouble() > 0);
        // per-class drafts: versions numbered per draft, and the last ones saved
        assertTrue(csv.stream().anyMatch(l -> l.contains(",sql,sql,") && !l.contains(",sql,sql,0,")));
        assertTrue(Files.list(out.resolve("drafts").resolve("sql")).anyMatch(p -> p.toString().endsWith(".json")));
        for (String png : List.of("alpha.png", "alpha-sql.png", "alpha-code.png", "alpha-run.png", "schedule.png")) {
            assertTrue(Files.size(out.resolve(png)) > 1000, png);
        }
    }

    @Test
    void badOptionsAreRefusedWithOneLine() {
        GenerateCommandTest.Run drafts = GenerateCommandTest.run("bench", "online", "--model", target.toString(),
                "--draft", draft.toString(), "--drafts", "several", "--out", dir.resolve("x").toString());
        assertEquals(1, drafts.code());
        assertTrue(drafts.err().contains("--drafts must be per-class or shared"), drafts.err());
        GenerateCommandTest.Run loss = GenerateCommandTest.run("bench", "online", "--model", target.toString(),
                "--draft", draft.toString(), "--loss", "l2", "--out", dir.resolve("y").toString());
        assertEquals(1, loss.code());
        assertTrue(loss.err().contains("unknown divergence 'l2'"), loss.err());
        GenerateCommandTest.Run cls = GenerateCommandTest.run("bench", "online", "--model", target.toString(),
                "--draft", draft.toString(), "--classes", "poetry", "--out", dir.resolve("z").toString());
        assertEquals(1, cls.code());
        assertTrue(cls.err().contains("unknown query class 'poetry'"), cls.err());
    }
}
