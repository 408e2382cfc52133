package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.MailboxSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The per-kind actor figures: messages processed, restarts of a supervised actor, messages waiting. */
class ActorMetricsTest {

    static final ActorTestKit KIT = ActorTestKit.create("actor-metrics");

    @AfterAll
    static void close() {
        KIT.shutdownTestKit();
    }

    @Test
    void processedRestartsAndQueueDepthAreCountedPerKind() throws Exception {
        ActorMetrics metrics = ActorMetrics.of(KIT.system());
        TestProbe<String> seen = KIT.createTestProbe();
        Behavior<String> fragile = Behaviors.receive(String.class).onMessageEquals("boom", () -> {
            throw new IllegalStateException("boom");
        }).onAnyMessage(m -> {
            seen.getRef().tell(m);
            return Behaviors.same();
        }).build();
        ActorRef<String> draft = KIT.spawn(ActorMetrics.restarting(String.class, "draft", fragile), "draft-fragile");
        draft.tell("one");
        draft.tell("boom");
        draft.tell("two");
        seen.expectMessage("one");
        seen.expectMessage("two");
        // a message counts once its handling returns, just after it told the probe
        seen.awaitAssert(Duration.ofSeconds(5), () -> {
            assertEquals(3, metrics.processed("draft"));
            return null;
        });
        assertEquals(1, metrics.restarts("draft"), "the failure restarted the actor once");
        assertEquals(0, metrics.restarts("target"));

        // messages wait in a counted mailbox while its actor is busy
        CountDownLatch release = new CountDownLatch(1);
        Behavior<String> busy = Behaviors.receive(String.class).onAnyMessage(m -> {
            if (m.equals("hold")) {
                seen.getRef().tell("holding");
                release.await(10, TimeUnit.SECONDS);
            }
            seen.getRef().tell(m);
            return Behaviors.same();
        }).build();
        ActorRef<String> target = KIT.spawn(ActorMetrics.measured(String.class, "target", busy), "target",
                MailboxSelector.fromConfig(ActorMetrics.MAILBOX));
        target.tell("hold");
        seen.expectMessage("holding");
        for (int i = 0; i < 4; i++) {
            target.tell("m" + i);
        }
        seen.awaitAssert(Duration.ofSeconds(5), () -> {
            assertEquals(4, metrics.queueDepth("target"), "four wait behind the one being handled");
            return null;
        });
        release.countDown();
        seen.expectMessage(Duration.ofSeconds(5), "hold");
        for (int i = 0; i < 4; i++) {
            seen.expectMessage("m" + i);
        }
        assertEquals(0, metrics.queueDepth("target"));
        seen.awaitAssert(Duration.ofSeconds(5), () -> {
            assertEquals(5, metrics.processed("target"));
            return null;
        });
    }
}
