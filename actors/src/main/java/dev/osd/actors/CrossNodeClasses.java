package dev.osd.actors;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.google.re2j.Pattern;
import dev.osd.distillation.DistillationRecord;
import dev.osd.distillation.DraftTrainer;
import dev.osd.distillation.TargetDistribution;
import dev.osd.engine.FinishReason;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.LogitsShaping;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SparseDistribution;
import dev.osd.engine.SpeculationStats;
import dev.osd.engine.TokenLogprob;
import dev.osd.engine.Verification;
import dev.osd.routing.Router;
import dev.osd.routing.RoutingRule;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * The classes that cross nodes, each with the Kryo id it has on every node. Ids are append-only: a class that
 * goes keeps its id retired, a new class takes the next free one, so nodes of the same release always agree.
 */
final class CrossNodeClasses {

    private CrossNodeClasses() {
    }

    static void register(Kryo kryo, Serializer<?> actorRefs, Serializer<?> lists, Serializer<?> patterns) {
        // plain data (ids 100-149)
        kryo.register(int[].class, 100);
        kryo.register(long[].class, 101);
        kryo.register(float[].class, 102);
        kryo.register(double[].class, 103);
        kryo.register(float[][].class, 104);
        kryo.register(double[][].class, 105);
        kryo.register(byte[].class, 106);
        kryo.register(ArrayList.class, lists, 107);
        kryo.register(jdk("java.util.ImmutableCollections$ListN"), lists, 108);
        kryo.register(jdk("java.util.ImmutableCollections$List12"), lists, 109);
        // 110: java.util.regex.Pattern, retired (routing patterns are RE2/J's now, 112)
        kryo.register(jdk("org.apache.pekko.actor.typed.internal.adapter.ActorRefAdapter"), actorRefs, 111);
        kryo.register(Pattern.class, patterns, 112);
        kryo.register(LinkedHashMap.class, 113);
        // engine, routing, distillation values inside messages (150-199)
        kryo.register(SamplingParams.class, 150);
        // 151: SpeculationRound, retired (the target builds the distillation record, 171, and sends it)
        kryo.register(Verification.class, 152);
        kryo.register(GenerationResult.class, 153);
        kryo.register(SpeculationStats.class, 154);
        kryo.register(FinishReason.class, 155);
        kryo.register(TokenLogprob.class, 156);
        kryo.register(Router.Route.class, 157);
        kryo.register(Router.Reason.class, 158);
        kryo.register(RoutingRule.class, 159);
        kryo.register(DraftTrainer.Stats.class, 160);
        kryo.register(Problem.Overloaded.class, 161);
        kryo.register(Problem.Unavailable.class, 162);
        kryo.register(Problem.InvalidInput.class, 163);
        kryo.register(Problem.ContextExhausted.class, 164);
        kryo.register(Problem.DeadlinePassed.class, 165);
        kryo.register(Problem.Cancelled.class, 166);
        kryo.register(Problem.Internal.class, 167);
        kryo.register(SpeculationStats.ProposerFigures.class, 168);
        kryo.register(LogitsShaping.class, 169);
        kryo.register(SparseDistribution.class, 170);
        kryo.register(DistillationRecord.class, 171);
        kryo.register(TargetDistribution.class, 172);
        kryo.register(SparseDistribution[].class, 173);
        kryo.register(TargetDistribution[].class, 174);
        // messages (200-)
        kryo.register(TargetActor.Open.class, 200);
        kryo.register(TargetActor.Opened.class, 201);
        kryo.register(TargetActor.Score.class, 202);
        kryo.register(TargetActor.Scored.class, 203);
        kryo.register(TargetActor.Close.class, 204);
        kryo.register(TargetActor.GetStats.class, 205);
        kryo.register(TargetActor.Stats.class, 206);
        kryo.register(TargetActor.CacheFull.class, 207);
        kryo.register(DraftActor.Propose.class, 210);
        kryo.register(DraftActor.Proposed.class, 211);
        kryo.register(DraftActor.Release.class, 212);
        kryo.register(DraftActor.GetStats.class, 213);
        kryo.register(DraftActor.Stats.class, 214);
        kryo.register(RequestActor.Tokens.class, 220);
        kryo.register(RequestActor.Finished.class, 221);
        kryo.register(RouterActor.Route.class, 230);
        kryo.register(RouterActor.Routed.class, 231);
        kryo.register(RouterActor.Observe.class, 232);
        kryo.register(RouterActor.AddDraft.class, 233);
        kryo.register(RouterActor.RemoveDraft.class, 234);
        // 240: TrainerActor.Round, retired (a round's whole-vocabulary rows no longer leave the target)
        kryo.register(TrainerActor.GetStats.class, 241);
        kryo.register(TrainerActor.Pause.class, 242);
        kryo.register(TrainerActor.Resume.class, 243);
        kryo.register(TrainerActor.Learn.class, 244);
        kryo.register(DraftWeights.VersionChunk.class, 250);
    }

    private static Class<?> jdk(String name) {
        try {
            return Class.forName(name);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("cannot register " + name + " for Kryo", e);
        }
    }

    /** Every message class registered here (the round-trip test covers each). */
    static final List<Class<?>> MESSAGES = List.of(TargetActor.Open.class, TargetActor.Opened.class,
            TargetActor.Score.class, TargetActor.Scored.class, TargetActor.Close.class, TargetActor.GetStats.class,
            TargetActor.Stats.class, DraftActor.Propose.class, DraftActor.Proposed.class, DraftActor.Release.class,
            DraftActor.GetStats.class, DraftActor.Stats.class,
            RequestActor.Tokens.class, RequestActor.Finished.class, RouterActor.Route.class, RouterActor.Routed.class,
            RouterActor.Observe.class, RouterActor.AddDraft.class, RouterActor.RemoveDraft.class,
            TrainerActor.Learn.class, TrainerActor.GetStats.class, TrainerActor.Pause.class,
            TrainerActor.Resume.class, DraftWeights.VersionChunk.class);
}
