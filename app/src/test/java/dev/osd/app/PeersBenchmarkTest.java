package dev.osd.app;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The peer comparison's arithmetic: per-repeat medians over prompts, their median and range, equality. */
class PeersBenchmarkTest {

    private static PeersBenchmark.Row row(String engine, int repeat, int prompt, double ttft, double tpot, int diff) {
        return new PeersBenchmark.Row(engine, repeat, prompt, "sql", 40, 128, ttft, tpot, diff, diff < 0 ? -1 : 7);
    }

    @Test
    @SuppressWarnings("unchecked")
    void repeatMediansThenTheirMedianAndRange() {
        List<PeersBenchmark.Row> rows = List.of(
                // repeat 0: prompts at 4, 2, 3 ms -> median 3; repeat 1: 5, 6, 1 -> 5
                row(PeersBenchmark.OSD, 0, 0, 20, 4, -1), row(PeersBenchmark.OSD, 0, 1, 30, 2, -1),
                row(PeersBenchmark.OSD, 0, 2, 10, 3, -1), row(PeersBenchmark.OSD, 1, 0, 21, 5, -1),
                row(PeersBenchmark.OSD, 1, 1, 31, 6, -1), row(PeersBenchmark.OSD, 1, 2, 11, 1, -1),
                row(PeersBenchmark.LLAMA_F16, 0, 0, 9, 1, -1), row(PeersBenchmark.LLAMA_F16, 0, 1, 9, 1, 12),
                row(PeersBenchmark.LLAMA_F16, 0, 2, 9, 1, -1), row(PeersBenchmark.LLAMA_F16, 1, 0, 9, 2, -1),
                row(PeersBenchmark.LLAMA_F16, 1, 1, 9, 2, 12), row(PeersBenchmark.LLAMA_F16, 1, 2, 9, 2, -1));
        Map<String, Object> engines = (Map<String, Object>) PeersBenchmark.summarize(rows).get("engines");
        Map<String, Object> osd = (Map<String, Object>) engines.get(PeersBenchmark.OSD);
        Map<String, Object> tpot = (Map<String, Object>) osd.get("tpot_ms");
        assertArrayEquals(new double[] {3, 5}, (double[]) tpot.get("per_repeat"));
        assertEquals(4.0, tpot.get("median"));
        assertEquals(3.0, tpot.get("min"));
        assertEquals(5.0, tpot.get("max"));
        assertEquals(250.0, osd.get("tokens_per_s"));
        assertArrayEquals(new double[] {20, 21}, (double[]) ((Map<String, Object>) osd.get("ttft_ms")).get("per_repeat"));
        Map<String, Object> f16 = (Map<String, Object>) engines.get(PeersBenchmark.LLAMA_F16);
        assertEquals("4/6", f16.get("greedy_equal"));
        assertEquals(List.of("prompt 1 at token 12"), f16.get("first_differences"));
        assertEquals(false, engines.containsKey(PeersBenchmark.LLAMA_F32));
    }

    @Test
    void firstDifference() {
        assertEquals(-1, PeersBenchmark.firstDifference(new int[] {1, 2, 3}, new int[] {1, 2, 3}));
        assertEquals(1, PeersBenchmark.firstDifference(new int[] {1, 2, 3}, new int[] {1, 5, 3}));
        assertEquals(2, PeersBenchmark.firstDifference(new int[] {1, 2}, new int[] {1, 2, 3}));
    }
}
