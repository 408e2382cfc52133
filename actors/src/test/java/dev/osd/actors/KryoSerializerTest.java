package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.osd.distillation.DistillationRecord;
import dev.osd.distillation.DraftTrainer;
import dev.osd.distillation.RecordPolicy;
import dev.osd.distillation.TrainerSettings;
import dev.osd.drafts.LiveDraft;
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
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Every cross-node message through the Kryo serializer, and a serving run with every message serialized. */
class KryoSerializerTest {

    static final ActorTestKit KIT = ActorTestKit.create("kryo");

    @AfterAll
    static void close() {
        KIT.shutdownTestKit();
    }

    record Unregistered(String x) implements CrossNode {
    }

    static Object roundTrip(Serialization s, Object o) {
        org.apache.pekko.serialization.Serializer serializer = s.findSerializerFor(o);
        assertEquals(KryoSerializer.IDENTIFIER, serializer.identifier(), o.getClass() + " goes through Kryo");
        byte[] bytes = s.serialize(o).get();
        return s.deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, o)).get();
    }

    /** Record equality with arrays compared by content, recursively. */
    static void assertSame(Object expected, Object actual) {
        if (expected == null || actual == null) {
            assertEquals(expected, actual);
            return;
        }
        assertEquals(expected.getClass(), actual.getClass());
        if (expected.getClass().isRecord()) {
            for (RecordComponent c : expected.getClass().getRecordComponents()) {
                try {
                    assertSame(c.getAccessor().invoke(expected), c.getAccessor().invoke(actual));
                } catch (ReflectiveOperationException e) {
                    throw new AssertionError(e);
                }
            }
        } else if (expected.getClass().isArray() && expected.getClass().getComponentType().isRecord()) {
            Object[] e = (Object[]) expected;
            Object[] a = (Object[]) actual;
            assertEquals(e.length, a.length);
            for (int i = 0; i < e.length; i++) {
                assertSame(e[i], a[i]);
            }
        } else if (expected.getClass().isArray()) {
            assertTrue(java.util.Objects.deepEquals(expected, actual), expected.getClass().getSimpleName());
        } else if (expected instanceof List<?> l) {
            List<?> m = (List<?>) actual;
            assertEquals(l.size(), m.size());
            for (int i = 0; i < l.size(); i++) {
                assertSame(l.get(i), m.get(i));
            }
        } else if (expected instanceof com.google.re2j.Pattern p) {
            assertEquals(p.pattern(), ((com.google.re2j.Pattern) actual).pattern());
            assertEquals(p.flags(), ((com.google.re2j.Pattern) actual).flags());
        } else if (expected instanceof SpeculationStats st) {
            SpeculationStats other = (SpeculationStats) actual;
            assertEquals(st.rounds(), other.rounds());
            assertEquals(st.acceptedTokens(), other.acceptedTokens());
            assertArrayEquals(st.acceptedPerPosition(), other.acceptedPerPosition());
            assertEquals(st.lastDraftVersion(), other.lastDraftVersion());
        } else {
            assertEquals(expected, actual);
        }
    }

    @Test
    void everyCrossNodeMessageSurvivesTheWire() {
        Serialization s = SerializationExtension.get(Adapter.toClassic(KIT.system()));
        ActorRef<Object> ref = KIT.createTestProbe().getRef();
        SamplingParams sampling = new SamplingParams(0.7, 20, 0.9, 42, LogitsShaping.of(new int[] {3}, new float[] {-1f},
                0.5, 0.2, 1.1, 2, 0.05, new int[] {7}).bind(3, new int[] {7, 0}), true);
        SparseDistribution[] q = {new SparseDistribution(new int[] {1, 0}, new double[] {0.75, 0.25}),
            new SparseDistribution(new int[] {0}, new double[] {1})};
        float[][] logits = {{1f, -2f}, {0.5f, 3f}};
        SpeculationStats stats = new SpeculationStats();
        GenerationResult result = new GenerationResult(new int[] {5, 6}, "hi", FinishReason.STOP, stats, 3, 10, 20,
                List.of(new TokenLogprob(5, -0.1f, new int[] {5}, new float[] {-0.1f})));
        Verification verification = new Verification(1, 0, new int[] {4}, new double[] {0.6});
        DistillationRecord whole = DistillationRecord.of(new int[] {1, 2}, new int[] {3}, 0, logits,
                RecordPolicy.ALL_VERIFIED, 0);
        DistillationRecord top = DistillationRecord.of(new int[] {1, 2}, new int[] {3}, 1, logits,
                RecordPolicy.ALL_VERIFIED, 1);
        List<Object> samples = List.of(
                new TargetActor.Open("r1", ref, ref.unsafeUpcast()),
                new TargetActor.Open("r1", ref, ref.unsafeUpcast(), ref.unsafeUpcast()),
                new TargetActor.Opened("r1", false, "full"),
                new TargetActor.Score("r1", 3, new int[] {7, 8, 9}, q, sampling, 5L, 2, ref.unsafeUpcast()),
                TargetActor.Score.prefill("r1", 0, new int[] {7, 8}, ref.unsafeUpcast()),
                new TargetActor.Scored("r1", new int[] {4}, verification, result.logprobs(), null, null),
                new TargetActor.Scored("r1", null, null, null, "full", new TargetActor.CacheFull(true, 3, 1, 9)),
                new TargetActor.Close("r1"),
                new TargetActor.GetStats(ref.unsafeUpcast()), new TargetActor.Stats(1, 2, 3, 4, 5, 6),
                new DraftActor.Propose("r1", 3, new int[] {1, 2, 3}, 4, sampling, 99L, ref, ref.unsafeUpcast()),
                new DraftActor.Proposed("r1", new int[] {9, 1}, q, 12, null),
                new DraftActor.Proposed("r1", null, null, -1, "lost", 0), new DraftActor.Release("r1"),
                new DraftActor.GetStats(ref.unsafeUpcast()), new DraftActor.Stats(1, 2, 3, 4, 5),
                new RequestActor.Tokens("r1", new int[] {5}, null),
                new RequestActor.Tokens("r1", new int[] {5}, result.logprobs()),
                new RequestActor.Finished("r1", result, "sql", null, "sql"),
                new RouterActor.Route("select 1", null, ref.unsafeUpcast()),
                new RouterActor.Routed(new Router.Route("sql", "sql", Router.Reason.RULE), null),
                new RouterActor.Observe("q", "sql", 0.5),
                new RouterActor.AddDraft("legal", RoutingRule.of("legal", List.of("contract"), List.of("(?i)clause"))),
                new RouterActor.RemoveDraft("legal"), new TrainerActor.Learn(whole), new TrainerActor.Learn(top),
                new TrainerActor.GetStats(ref.unsafeUpcast()), TrainerActor.Pause.INSTANCE,
                TrainerActor.Resume.INSTANCE,
                new DraftWeights.VersionChunk("sql", 3, 2, "ab12", 0, 2, 1000L, new byte[] {1, 2, 3}));
        List<Class<?>> covered = new ArrayList<>();
        for (Object o : samples) {
            assertSame(o, roundTrip(s, o));
            covered.add(o.getClass());
        }
        for (Class<?> c : CrossNodeClasses.MESSAGES) {
            assertTrue(covered.contains(c), "a sample of " + c.getSimpleName());
        }
        // the actor ref comes back as the same actor
        TargetActor.Open open = (TargetActor.Open) roundTrip(s, new TargetActor.Open("x", ref, ref.unsafeUpcast()));
        assertEquals(ref, open.owner());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> s.serialize(new Unregistered("x")).get());
        assertTrue(e.getMessage().contains("not registered"), e.getMessage());
    }

    @Test
    void servingWithEveryMessageSerializedGivesTheTargetOnlyTokens() throws Exception {
        ExecutorService training = DraftTrainer.newTrainingExecutor();
        ServingModels models = new ServingModels();
        LiveDraft live = models.live("d");
        TrainerSettings settings = TrainerSettings.builder(64).optGuardWindow(0).optGuardTolerance(0).build();
        DraftTrainer trainer = new DraftTrainer(live, settings, training, null, models.manager);
        var config = ConfigFactory.parseMap(Map.of("pekko.actor.serialize-messages", "on"))
                .withFallback(ConfigFactory.load());
        try (ServingSystem system = ServingSystem.builder().setName("serialized")
                .setRouter(new Router(List.of(), "d", null, 0)).setManager(models.manager).optTarget(models.target)
                .optDrafts(List.of(new ServingSystem.Draft("d", live, trainer)))
                .optSettings(ServingSystem.Settings.defaults()).optConfig(config).start()) {
            assertTrue(system.actorSystem().settings().config().getBoolean("pekko.actor.serialize-messages"));
            List<CompletableFuture<RequestActor.Finished>> results = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                results.add(system.submit(ServingSystem.Submission.of(ServingModels.greedy(i, 3), "q" + i), null)
                        .toCompletableFuture());
            }
            for (int i = 0; i < 6; i++) {
                RequestActor.Finished f = results.get(i).get(60, TimeUnit.SECONDS);
                assertNull(f.problem());
                assertEquals("d", f.draft());
                assertTrue(f.result().stats().draftTokens() > 0);
                assertArrayEquals(models.plain(ServingModels.greedy(i, 0)), f.result().tokens(), "request " + i);
            }
            assertTrue(system.targetStats().forwards() > 0);
        } finally {
            trainer.close();
            training.shutdown();
            live.close();
            models.close();
        }
    }
}
