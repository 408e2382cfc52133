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
import java.util.Random;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A replica's receiver publishes only whole, checksum-verified, newer versions, whatever order chunks come in. */
class DraftWeightsTest {

    static final ActorTestKit KIT = ActorTestKit.create("weights");
    static ServingModels models;

    @BeforeAll
    static void open() {
        models = new ServingModels();
    }

    @AfterAll
    static void close() {
        KIT.shutdownTestKit();
        models.close();
    }

    /** The receiver takes any chunk size; small ones make this tiny draft travel in many pieces. */
    static final int SIZE = 2048;

    static List<DraftWeights.VersionChunk> chunks(long version, byte[] bytes, String sha) {
        int total = (bytes.length + SIZE - 1) / SIZE;
        List<DraftWeights.VersionChunk> out = new ArrayList<>();
        for (int i = 0; i < total; i++) {
            out.add(new DraftWeights.VersionChunk("d", version, version - 1, sha, i, total, System.currentTimeMillis(),
                    Arrays.copyOfRange(bytes, i * SIZE, Math.min(bytes.length, (i + 1) * SIZE))));
        }
        return out;
    }

    /**
     * The receiver handles its chunks in the order they are sent and tells of each version it publishes: so the
     * first version it tells of after a sequence of chunks proves that none of the chunks before made a version
     * of their own, with no waiting to see that nothing happens.
     */
    @Test
    void onlyWholeVerifiedNewerVersionsAreServed() {
        LiveDraft live = models.live("d");
        LlamaWeights trained = LlamaWeights.random(models.draft.config(), 99, 0.3, models.manager);
        byte[] bytes = WeightsWire.encode(trained);
        String sha = WeightsWire.sha256(bytes);
        TestProbe<DraftWeights.Received> published = KIT.createTestProbe();
        ActorRef<DraftWeights.Receiver> receiver = KIT.spawn(DraftWeights.receiver("d", live,
                models.draft.config(), models.manager, published.getRef()::tell), "receiver");
        List<DraftWeights.VersionChunk> v3 = chunks(3, bytes, sha);
        assertTrue(v3.size() > 1, "the weights need several chunks");

        // a damaged version (its checksum does not match) is never served
        chunks(2, bytes, "0".repeat(64)).forEach(receiver::tell);
        // all but one chunk of version 3, shuffled, each twice: duplicates are harmless
        List<DraftWeights.VersionChunk> shuffled = new ArrayList<>(v3);
        Collections.shuffle(shuffled, new Random(5));
        for (DraftWeights.VersionChunk c : shuffled.subList(0, shuffled.size() - 1)) {
            receiver.tell(c);
            receiver.tell(c);
        }
        receiver.tell(shuffled.get(shuffled.size() - 1));
        assertEquals(3, published.expectMessageClass(DraftWeights.Received.class, Duration.ofSeconds(10)).version(),
                "neither the damaged version nor a partial one came first");
        assertEquals(3, live.version());
        try (DraftVersion v = live.acquire()) {
            assertArrayEquals(trained.hostValues("model.embed_tokens.weight"),
                    v.model().weights().hostValues("model.embed_tokens.weight"));
        }

        // an older version arriving late is ignored: the next one told of is the newer version sent after it
        chunks(2, bytes, sha).forEach(receiver::tell);
        chunks(4, bytes, sha).forEach(receiver::tell);
        assertEquals(4, published.expectMessageClass(DraftWeights.Received.class, Duration.ofSeconds(10)).version(),
                "version 2 after version 3 was not served");
        assertEquals(4, live.version());
        KIT.stop(receiver, Duration.ofSeconds(5));
        live.close();
        trained.close();
    }
}
