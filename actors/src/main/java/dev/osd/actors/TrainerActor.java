package dev.osd.actors;

import dev.osd.distillation.DistillationRecord;
import dev.osd.distillation.DraftTrainer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.LoggerFactory;

/**
 * The trainer of one draft as an actor: the target actor sends it the distillation record of every verified
 * round (built next to the target's logits: context, positions, the target's top N and the rest mass); it
 * hands them to the draft's {@link DraftTrainer}, whose updates run on the JVM's one training thread, never on
 * this actor's or a request's. A failure here is logged and the record dropped; serving never waits for it.
 */
public final class TrainerActor {

    public sealed interface Command {
    }

    /** One verified round's record, of every verified position ({@code DraftTrainer.offerVerified}). */
    public record Learn(DistillationRecord record) implements Command, CrossNode {
    }

    public enum Pause implements Command, CrossNode {
        INSTANCE
    }

    public enum Resume implements Command, CrossNode {
        INSTANCE
    }

    public record GetStats(ActorRef<DraftTrainer.Stats> replyTo) implements Command, CrossNode {
    }

    private TrainerActor() {
    }

    public static Behavior<Command> create(DraftTrainer trainer) {
        return Behaviors.receive(Command.class)
                .onMessage(Learn.class, r -> {
                    try {
                        trainer.offerVerified(r.record());
                    } catch (RuntimeException e) {
                        // never let one bad round stop the trainer
                        LoggerFactory.getLogger(TrainerActor.class).warn("draft {}: record dropped: {}",
                                trainer.draft(), e.toString());
                    }
                    return Behaviors.same();
                })
                .onMessageEquals(Pause.INSTANCE, () -> {
                    trainer.pause();
                    return Behaviors.same();
                })
                .onMessageEquals(Resume.INSTANCE, () -> {
                    trainer.resume();
                    return Behaviors.same();
                })
                .onMessage(GetStats.class, g -> {
                    g.replyTo().tell(trainer.stats());
                    return Behaviors.same();
                })
                .build();
    }
}
