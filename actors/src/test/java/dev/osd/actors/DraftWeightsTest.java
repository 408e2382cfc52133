package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.drafts.DraftVersion;
import dev.osd.drafts.LiveDraft;
import dev.osd.drafts.WeightsWire;
import dev.osd.engine.LlamaWeights;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** A replica's receiver publishes only whole, checksum-verified, newer versions, whatever order chunks come in. */
class DraftWeightsTest {

    static final ActorTestKit KIT = ActorTestKit.create("weights");

    @AfterAll
    static void close() {
        KIT.shutdownTestKit();
    }

    /** The receiver takes any chunk size; small ones make this tiny draft travel in many pieces. */
    static final int SIZE = 2048;

    static List<DraftWeights.VersionChunk> chunks(long number, byte[] bytes, String sha) {
        int total = (bytes.length + SIZE - 1) / SIZE;
        List<DraftWeights.VersionChunk> out = new ArrayList<>();
        for (int i = 0; i < total; i++) {
            out.add(new DraftWeights.VersionChunk("d", number, number - 1, sha, i, total, System.currentTimeMillis(),
                    Arrays.copyOfRange(bytes, i * SIZE, Math.min(bytes.length, (i + 1) * SIZE))));
        }
        return out;
    }

    @Test
    void onlyWholeVerifiedNewerVersionsAreServed() throws Exception {
        ServingTest.models();
        LiveDraft live = ServingSystemTest.live("d");
        LlamaWeights trained = LlamaWeights.random(ServingTest.draft.config(), 99, 0.3, ServingTest.manager);
        byte[] bytes = WeightsWire.encode(trained);
        String sha = WeightsWire.sha256(bytes);
        List<DraftWeights.Received> received = new CopyOnWriteArrayList<>();
        ActorRef<DraftWeights.Receiver> receiver = KIT.spawn(DraftWeights.receiver("d", live,
                ServingTest.draft.config(), ServingTest.manager, received::add), "receiver");
        List<DraftWeights.VersionChunk> v3 = chunks(3, bytes, sha);
        List<DraftWeights.VersionChunk> bad = chunks(2, bytes, "0".repeat(64));
        assertTrue(v3.size() > 1, "the weights need several chunks");

        // a damaged version (its checksum does not match) is never served
        bad.forEach(receiver::tell);
        // all but one chunk of version 3: nothing yet
        List<DraftWeights.VersionChunk> shuffled = new ArrayList<>(v3);
        Collections.shuffle(shuffled, new java.util.Random(5));
        for (DraftWeights.VersionChunk c : shuffled.subList(0, shuffled.size() - 1)) {
            receiver.tell(c);
            receiver.tell(c); // duplicates are harmless
        }
        Thread.sleep(300);
        assertEquals(0, live.versionNumber(), "a partial version is never served");
        receiver.tell(shuffled.get(shuffled.size() - 1));
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (live.versionNumber() != 3 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(3, live.versionNumber());
        try (DraftVersion v = live.acquire()) {
            assertArrayEquals(trained.hostValues("model.embed_tokens.weight"),
                    v.model().weights().hostValues("model.embed_tokens.weight"));
        }
        // an older version arriving late is ignored
        chunks(2, bytes, sha).forEach(receiver::tell);
        Thread.sleep(300);
        assertEquals(3, live.versionNumber());
        assertEquals(1, received.size());
        assertEquals(3, received.get(0).number());
        KIT.stop(receiver, Duration.ofSeconds(5));
        live.close();
        trained.close();
    }
}
