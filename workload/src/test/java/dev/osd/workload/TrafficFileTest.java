package dev.osd.workload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrafficFileTest {

    @TempDir
    Path dir;

    @Test
    void exportThenImportGivesTheSameTraffic() throws IOException {
        List<Example> traffic = new java.util.ArrayList<>();
        for (QueryClass c : Workload.CLASSES) {
            traffic.addAll(Workload.examples(c, Workload.Split.HELD_OUT, 5, 1));
        }
        traffic.add(new Example(null, "plain \"quoted\" <html> ünïcödé ✓", ""));
        Path file = dir.resolve("traffic.jsonl");
        TrafficFile.write(file, traffic);
        assertEquals(traffic, TrafficFile.read(file));
    }

    @Test
    void chatMessagesAreRenderedWithTheTemplate() throws IOException {
        Path file = dir.resolve("chat.jsonl");
        Files.writeString(file, "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                + "{\"role\":\"user\",\"content\":\"Hi\"}],\"class\":\"finance\"}\n\n{\"prompt\":\"x\"}\n");
        List<Example> read = TrafficFile.read(file);
        assertEquals(2, read.size());
        assertEquals("Be brief.\n<|user|>Hi\n<|assistant|>", read.get(0).prompt());
        assertEquals("finance", read.get(0).queryClass());
        assertEquals(null, read.get(1).queryClass());
    }

    @Test
    void badLinesAreRefusedWithTheirNumber() throws IOException {
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, "{\"prompt\":\"ok\"}\n{\"prompt\": 3}\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrafficFile.read(file));
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("prompt"), e.getMessage());
        Files.writeString(file, "not json\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TrafficFile.read(file)).getMessage()
                .contains("line 1"));
        Files.writeString(file, "{\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TrafficFile.read(file)).getMessage()
                .contains("robot"));
    }
}
