package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import dev.osd.distillation.DistillationRecord;
import dev.osd.distillation.RecordPolicy;
import dev.osd.engine.FinishReason;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.LogitsShaping;
import dev.osd.engine.Proposal;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SparseDistribution;
import dev.osd.engine.SpeculationStats;
import dev.osd.engine.TargetDecision;
import dev.osd.engine.SpeculativeVerifier;
import dev.osd.engine.TokenLogprob;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * No message of the serving path grows with the vocabulary: every message class a request exchanges, built as
 * the actors build it at Llama 3's 128,256-token vocabulary (k = 8 proposals, q and the distillation record
 * at their configured top N, a 2,048-token context, top-20 log-probabilities), serialised with the project's
 * Kryo serializer, is far below Artery's frame limit; and a verification round's bytes are the same at a
 * 32,000-token vocabulary. Echo's prompt log-probabilities come from the target in parts
 * ({@link RequestActor#PROMPT_LOGPROBS_PART} positions an answer), so no target message grows with the prompt.
 */
class MessageBoundsTest {

    static final ActorTestKit KIT = ActorTestKit.create("bounds");
    static final int K = 8;
    static final int CONTEXT = 2048;
    static final int TOP_LOGPROBS = 20;
    /** The most alternatives the completions API, the one with echo, asks for. */
    static final int ECHO_TOP = 5;

    @AfterAll
    static void close() {
        KIT.shutdownTestKit();
    }

    static int bytes(Serialization s, Object o) {
        org.apache.pekko.serialization.Serializer serializer = s.findSerializerFor(o);
        assertEquals(KryoSerializer.IDENTIFIER, serializer.identifier(), o.getClass() + " goes through Kryo");
        byte[] b = s.serialize(o).get();
        // what is measured must also come back
        s.deserialize(b, serializer.identifier(), Serializers.manifestFor(serializer, o)).get();
        return b.length;
    }

    static float[] logits(int vocab, SplittableRandom random) {
        float[] l = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            l[i] = (float) (random.nextGaussian() * 3);
        }
        return l;
    }

    /** Every serving-path message of one request at this vocabulary, keyed by what it is, in wire bytes. */
    static Map<String, Integer> messages(int vocab) {
        return messages(vocab, new SamplingParams(0.8, 0, 0.95, 42));
    }

    /** As {@link #messages(int)} for a request with these sampling parameters (they travel in Propose and Score). */
    static Map<String, Integer> messages(int vocab, SamplingParams sampling) {
        Serialization s = SerializationExtension.get(Adapter.toClassic(KIT.system()));
        Config config = KIT.system().settings().config();
        ActorRef<Object> ref = KIT.createTestProbe().getRef();
        SplittableRandom random = new SplittableRandom(vocab);
        int proposalTopN = config.getInt(DraftActor.PROPOSAL_TOP_N);
        int recordTopN = TargetActor.recordTopN(config, vocab);
        int[] context = random.ints(CONTEXT, 0, vocab).toArray();
        // the draft's proposal: k sparse rows, drawn as the draft actor draws them
        int[] proposal = new int[K];
        SparseDistribution[] q = new SparseDistribution[K];
        for (int i = 0; i < K; i++) {
            float[] l = logits(vocab, random);
            q[i] = Proposal.row(l, sampling, proposalTopN);
            proposal[i] = Proposal.next(q[i], sampling, random, CONTEXT + i);
        }
        // the target's k + 1 rows; the proposal made likely under them so that the round accepts some
        float[][] rows = new float[K + 1][];
        for (int i = 0; i <= K; i++) {
            rows[i] = logits(vocab, random);
            if (i < K) {
                rows[i][proposal[i]] = 40;
            }
        }
        TargetDecision d = TargetDecision.verify(rows, proposal, q, sampling, random, context, CONTEXT, TOP_LOGPROBS,
                SpeculativeVerifier.lossless());
        int[] input = new int[K + 1];
        input[0] = context[CONTEXT - 1];
        System.arraycopy(proposal, 0, input, 1, K);
        DistillationRecord record = DistillationRecord.of(context, proposal, d.verification().accepted(), rows,
                RecordPolicy.ALL_VERIFIED, recordTopN);
        List<TokenLogprob> completionLogprobs = new ArrayList<>();
        int completion = 256;
        for (int i = 0; i < completion; i++) {
            completionLogprobs.add(d.logprobs().get(i % d.logprobs().size()));
        }
        // echo with logprobs: a prefill part's answer, and the whole prompt's entries the client gets
        int part = RequestActor.PROMPT_LOGPROBS_PART;
        List<TokenLogprob> partEntries = new ArrayList<>();
        for (int i = 0; i < part; i++) {
            partEntries.add(TokenLogprob.of(rows[i % rows.length], context[i + 1], ECHO_TOP));
        }
        List<TokenLogprob> promptEntries = new ArrayList<>();
        for (int i = 0; i < CONTEXT - 1; i++) {
            promptEntries.add(partEntries.get(i % part));
        }
        // echo is the completions API's, whose logprobs stop at 5: the completion's at 5 too
        List<TokenLogprob> echoedLogprobs = List.copyOf(promptEntries.subList(0, completion));
        GenerationResult echoed = new GenerationResult(Arrays.copyOf(context, completion), "x".repeat(4 * completion),
                FinishReason.LENGTH, new SpeculationStats(), CONTEXT, 10, 20, echoedLogprobs, promptEntries);
        GenerationResult result = new GenerationResult(Arrays.copyOf(context, completion), "x".repeat(4 * completion),
                FinishReason.LENGTH, new SpeculationStats(), CONTEXT, 10, 20, completionLogprobs);
        Map<String, Integer> sizes = new LinkedHashMap<>();
        sizes.put("Open", bytes(s, new TargetActor.Open("req-1", ref, ref.unsafeUpcast(), ref.unsafeUpcast())));
        sizes.put("Opened", bytes(s, new TargetActor.Opened("req-1", true, null)));
        sizes.put("Score (prefill of the context)", bytes(s, TargetActor.Score.prefill("req-1", 0,
                Arrays.copyOf(context, CONTEXT - 1), ref.unsafeUpcast())));
        sizes.put("Score (prefill part with prompt logprobs)", bytes(s, TargetActor.Score.prefillWithLogprobs("req-1",
                CONTEXT - 1 - part, Arrays.copyOfRange(context, CONTEXT - 1 - part, CONTEXT - 1), context[CONTEXT - 1],
                ECHO_TOP, ref.unsafeUpcast())));
        sizes.put("Scored (prefill part: " + part + " prompt logprobs)", bytes(s, new TargetActor.Scored("req-1",
                new int[0], null, partEntries, null, null)));
        sizes.put("Propose (first: the whole context)", bytes(s, new DraftActor.Propose("req-1", 0, context, K,
                sampling, 7L, ref, ref.unsafeUpcast())));
        sizes.put("Propose", bytes(s, new DraftActor.Propose("req-1", CONTEXT - K - 1, Arrays.copyOfRange(context,
                CONTEXT - K - 1, CONTEXT), K, sampling, 7L, ref, ref.unsafeUpcast())));
        sizes.put("Proposed", bytes(s, new DraftActor.Proposed("req-1", proposal, q, 12, null)));
        sizes.put("Score (verification)", bytes(s, new TargetActor.Score("req-1", CONTEXT - 1, input, q, sampling, 9L,
                TOP_LOGPROBS, ref.unsafeUpcast())));
        sizes.put("Scored (verification)", bytes(s, new TargetActor.Scored("req-1", d.tokens(), d.verification(),
                d.logprobs(), null, null)));
        sizes.put("Scored (verification, no logprobs)", bytes(s, new TargetActor.Scored("req-1", d.tokens(),
                d.verification(), null, null, null)));
        sizes.put("Score (step)", bytes(s, TargetActor.Score.step("req-1", CONTEXT - 1, new int[] {5}, sampling, 9L,
                TOP_LOGPROBS, ref.unsafeUpcast())));
        TargetDecision step = TargetDecision.step(rows[0], sampling, random, context, CONTEXT, TOP_LOGPROBS);
        sizes.put("Scored (step)", bytes(s, new TargetActor.Scored("req-1", step.tokens(), null, step.logprobs(), null,
                null)));
        sizes.put("Learn (the trainer's record)", bytes(s, new TrainerActor.Learn(record)));
        sizes.put("Tokens", bytes(s, new RequestActor.Tokens("req-1", d.tokens(), d.logprobs())));
        sizes.put("Finished (256 tokens with top-20 logprobs)", bytes(s, new RequestActor.Finished("req-1", result,
                "sql", null, "sql")));
        sizes.put("Tokens (echo: a part of the prompt's logprobs)", bytes(s, new RequestActor.Tokens("req-1",
                new int[0], null, partEntries)));
        sizes.put("Finished (echo: 256 tokens and the prompt's 2,047, top 5)", bytes(s, new RequestActor.Finished("req-1",
                echoed, "sql", null, "sql")));
        sizes.put("Close", bytes(s, new TargetActor.Close("req-1")));
        sizes.put("Release", bytes(s, new DraftActor.Release("req-1")));
        return sizes;
    }

    static int round(Map<String, Integer> sizes) {
        return sizes.get("Propose") + sizes.get("Proposed") + sizes.get("Score (verification)")
                + sizes.get("Scored (verification)") + sizes.get("Learn (the trainer's record)");
    }

    @Test
    void everyServingMessageAtA128kVocabularyIsFarBelowTheFrameLimit() {
        long frame = KIT.system().settings().config().getBytes("pekko.remote.artery.advanced.maximum-frame-size");
        Map<String, Integer> large = messages(128_256);
        Map<String, Integer> small = messages(32_000);
        for (Map.Entry<String, Integer> m : large.entrySet()) {
            System.out.printf(Locale.ROOT, "%-45s %,9d bytes at 128,256 tokens, %,9d at 32,000%n", m.getKey(),
                    m.getValue(), small.get(m.getKey()));
            // the result grows with the completion's length (and its log-probabilities; with echo, the prompt's:
            // about 45 bytes a prompt token at top 5), never with the vocabulary; it goes from the request actor
            // to its client, both on the gateway's node. Echo's prompt logprobs come from the target, and go on
            // to the client, in parts
            long bound = m.getKey().startsWith("Finished (echo") ? frame / 2
                    : m.getKey().startsWith("Finished") ? frame / 4 : frame / 16;
            assertTrue(m.getValue() < bound, m.getKey() + ": " + m.getValue() + " bytes against a frame of " + frame);
            assertTrue(m.getValue() < 1.1 * small.get(m.getKey()) + 8, m.getKey() + " grows with the vocabulary");
        }
        int perRound = round(large);
        System.out.printf(Locale.ROOT, "one verification round (Propose, Proposed, Score, Scored, Learn): %,d bytes "
                + "at 128,256 tokens, %,d at 32,000; frame %,d%n", perRound, round(small), frame);
        assertTrue(perRound < frame / 8, "a round's messages: " + perRound + " bytes");
        // the wire does not grow with the vocabulary (token ids take a byte more as varints, nothing else)
        assertTrue(perRound < 1.1 * round(small), perRound + " bytes at 128k against " + round(small) + " at 32k");
        // the rows that used to travel: k + 1 logits rows of the target alone
        assertTrue(perRound * 50L < (K + 1) * 128_256L * Float.BYTES);
    }

    /**
     * The logits shaping travels in every Propose and Score: at the most the API takes (1,024 logit_bias entries
     * and 1,024 stop token ids, bound to the prompt with EOS), seeded, the messages stay far below the frame.
     */
    @Test
    void aShapedSeededRequestAtTheListLimitsStaysFarBelowTheFrameLimit() {
        long frame = KIT.system().settings().config().getBytes("pekko.remote.artery.advanced.maximum-frame-size");
        int vocab = 128_256;
        int n = 1024;
        int[] bias = new int[n];
        float[] values = new float[n];
        int[] stops = new int[n];
        for (int i = 0; i < n; i++) {
            bias[i] = 1_000 + 97 * i;
            values[i] = -3.5f;
            stops[i] = 50_000 + 13 * i;
        }
        int[] end = Arrays.copyOf(stops, n + 1);
        end[n] = 2;
        SamplingParams shaped = new SamplingParams(0.8, 40, 0.95, 42, LogitsShaping.of(bias, values, 0.5, 0.3, 1.1,
                4, 0.05, stops).bind(CONTEXT, end), true);
        Map<String, Integer> sizes = messages(vocab, shaped);
        for (Map.Entry<String, Integer> m : sizes.entrySet()) {
            System.out.printf(Locale.ROOT, "%-45s %,9d bytes shaped and seeded at 128,256 tokens%n", m.getKey(),
                    m.getValue());
            assertTrue(m.getValue() < (m.getKey().startsWith("Finished (echo") ? frame / 2 : frame / 4), m.getKey()
                    + ": " + m.getValue() + " bytes against " + frame);
        }
        System.out.printf(Locale.ROOT, "one verification round, shaped at the list limits: %,d bytes%n",
                round(sizes));
        assertTrue(round(sizes) < frame / 4, "a shaped round's messages: " + round(sizes) + " bytes");
    }
}
