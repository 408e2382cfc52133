package dev.osd.actors;

import com.typesafe.config.Config;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.dispatch.Envelope;
import org.apache.pekko.dispatch.MailboxType;
import org.apache.pekko.dispatch.MessageQueue;
import org.apache.pekko.dispatch.ProducesMessageQueue;
import org.apache.pekko.dispatch.UnboundedMessageQueueSemantics;
import scala.Option;

/**
 * An unbounded mailbox that counts what waits in it, per actor kind, into {@link ActorMetrics} (the queue
 * depth gauge). Configured as {@code osd.counted-mailbox}; serving actors are spawned with it.
 */
public final class CountingMailbox implements MailboxType, ProducesMessageQueue<CountingMailbox.Queue> {

    public CountingMailbox(ActorSystem.Settings settings, Config config) {
    }

    @Override
    public MessageQueue create(Option<ActorRef> owner, Option<ActorSystem> system) {
        AtomicLong depth = owner.isDefined() && system.isDefined()
                ? ActorMetrics.ID.get(system.get()).queue(ActorMetrics.kindOf(owner.get().path().name()))
                : new AtomicLong();
        return new Queue(depth);
    }

    /** The queue: a lock-free linked queue and the kind's counter. */
    static final class Queue implements MessageQueue, UnboundedMessageQueueSemantics {
        private final ConcurrentLinkedQueue<Envelope> queue = new ConcurrentLinkedQueue<>();
        private final AtomicLong depth;

        Queue(AtomicLong depth) {
            this.depth = depth;
        }

        @Override
        public void enqueue(ActorRef receiver, Envelope handle) {
            queue.offer(handle);
            depth.incrementAndGet();
        }

        @Override
        public Envelope dequeue() {
            Envelope e = queue.poll();
            if (e != null) {
                depth.decrementAndGet();
            }
            return e;
        }

        @Override
        public int numberOfMessages() {
            return queue.size();
        }

        @Override
        public boolean hasMessages() {
            return !queue.isEmpty();
        }

        @Override
        public void cleanUp(ActorRef owner, MessageQueue deadLetters) {
            for (Envelope e = dequeue(); e != null; e = dequeue()) {
                deadLetters.enqueue(owner, e);
            }
        }
    }
}
