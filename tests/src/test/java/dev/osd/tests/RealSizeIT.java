package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.ServingSystem;
import dev.osd.app.MakeModelCommand;
import dev.osd.app.Osd;
import dev.osd.app.ServingStack;
import dev.osd.engine.LlamaConfig;
import dev.osd.http.HttpServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proof at a real size (issue 14): a ~100M-parameter target and a small draft with the published Llama 2
 * tokenizer (32,000 tokens), written by {@code osd make-model} (BF16, random weights), served over HTTP by
 * {@code osd serve} in its own JVM and through a three-node cluster (gateway, target, draft) whose every
 * message is serialized as if it crossed nodes. Greedy output is the same with speculation on and off. Random
 * weights make acceptance meaningless; they make the sizes of memory and messages real: a verification round
 * at this vocabulary is what the embedded models' 2,048 tokens never showed. Skipped when npm can reach
 * neither the registry nor a cached copy of the tokenizer.
 */
class RealSizeIT {

    static final int TOKENS = 24;
    /**
     * Proposals of 8: a round verifies 9 positions, so a message carrying the target's full-vocabulary rows
     * would take 9 x 32,000 floats (1.15 MB), over Artery's 1 MiB frame; the serving path must not send one.
     */
    static final int K = 8;

    @TempDir
    static Path dir;

    static Path target;
    static Path draft;

    @BeforeAll
    static void models() throws Exception {
        assumeTrue(MakeModelCommand.llama2TokenizerAvailable(),
                "the Llama 2 tokenizer is neither cached nor reachable through npm");
        target = dir.resolve("target");
        draft = dir.resolve("draft");
        // llama-160m's width with 6 of its 12 layers; a 2-layer draft a third of llama-68m's width
        assertEquals(0, Osd.execute("make-model", "--shape", "llama-160m", "--layers", "6", "--seed", "1",
                "--out", target.toString()));
        assertEquals(0, Osd.execute("make-model", "--shape", "llama-68m", "--hidden", "256", "--intermediate", "1024",
                "--heads", "4", "--seed", "2", "--out", draft.toString()));
        LlamaConfig t = LlamaConfig.read(target);
        LlamaConfig d = LlamaConfig.read(draft);
        assertEquals(32000, t.vocabSize());
        assertEquals(32000, d.vocabSize());
        assertTrue(t.parameterCount() > 100_000_000L && t.parameterCount() < 110_000_000L, "target parameters "
                + t.parameterCount());
        assertTrue(d.parameterCount() < 20_000_000L, "draft parameters " + d.parameterCount());
    }

    static List<String> prompts() {
        List<String> prompts = new ArrayList<>();
        String[] classes = {"sql", "math", "code", "finance"};
        for (int i = 0; i < 4; i++) {
            prompts.add(HttpApiTest.prompt(classes[i], 40 + i));
        }
        return prompts;
    }

    static JsonObject completion(String model, String prompt) {
        JsonObject body = HttpApiTest.completion(prompt, TOKENS);
        body.addProperty("model", model);
        return body;
    }

    /**
     * Each prompt with speculation off, then on: the same text, and each speculative request ran at least the
     * rounds of {@link #K} proposals that full acceptance would take (a round whose proposal does not arrive,
     * e.g. one Artery dropped as over its frame, goes on target-only: same text, fewer draft tokens). Returns
     * the draft tokens each request proposed (how many also depends on proposals that miss their deadline).
     */
    static List<Long> sameWithAndWithoutSpeculation(HttpClientSupport api) throws Exception {
        String model = api.get("/v1/models").json().getAsJsonArray("data").get(0).getAsJsonObject().get("id")
                .getAsString();
        List<Long> drafted = new ArrayList<>();
        for (String p : prompts()) {
            HttpClientSupport.Reply off = api.post("/v1/completions", HttpApiTest.speculationOff(completion(model, p)));
            JsonObject speculate = completion(model, p);
            JsonObject k = new JsonObject();
            k.addProperty("num_draft_tokens", K);
            speculate.add("speculation", k);
            HttpClientSupport.Reply on = api.post("/v1/completions", speculate);
            assertEquals(200, off.status(), off.body());
            assertEquals(200, on.status(), on.body());
            assertEquals(ClusterIT.text(off), ClusterIT.text(on), "prompt " + p);
            assertEquals(TOKENS, on.json().getAsJsonObject("usage").get("completion_tokens").getAsInt(), on.body());
            long proposed = HttpApiTest.sd(on.json()).get("num_draft_tokens").getAsLong();
            // at least the rounds of K proposals that all-accepted rounds would take
            assertTrue(proposed >= (long) K * (TOKENS / (K + 1)), "rounds of " + K + " proposals ran: " + on.body());
            drafted.add(proposed);
        }
        return drafted;
    }

    @Test
    void osdServeGivesTheSameGreedyTextWithSpeculationOnAndOff() throws Exception {
        ServeProcess server = ServeProcess.start("3g", List.of("--model", target.toString(), "--draft",
                draft.toString(), "--no-training"));
        try {
            HttpClientSupport api = new HttpClientSupport(server.url());
            ClusterIT.awaitReady(api, 1);
            sameWithAndWithoutSpeculation(api);
        } finally {
            server.process().toHandle().destroy();
            if (!server.process().waitFor(60, TimeUnit.SECONDS)) {
                server.process().destroyForcibly();
            }
        }
    }

    @Test
    void threeNodesWithEveryMessageSerializedGiveTheSameGreedyText() throws Exception {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        int seed = ClusterIT.freePort();
        int targetPort = ClusterIT.freePort();
        int draftPort = ClusterIT.freePort();
        ServingSystem.Settings settings = new ServingSystem.Settings(8, 16, Duration.ofSeconds(2), 0.1, 1, K);
        List<ServingStack> nodes = new ArrayList<>();
        HttpServer http = null;
        try {
            ServingStack gateway = start(seed, seed, Set.of("gateway"), settings);
            nodes.add(gateway);
            nodes.add(start(targetPort, seed, Set.of("target"), settings));
            nodes.add(start(draftPort, seed, Set.of("draft"), settings));
            http = HttpServer.start(gateway.system(), gateway.tokenizer(), gateway.tokenizerConfig(),
                    HttpServer.Settings.builder().optPort(0).build());
            HttpClientSupport api = new HttpClientSupport(http.url());
            ClusterIT.awaitReady(api, 1);
            ClusterIT.awaitUp(api, 3);
            sameWithAndWithoutSpeculation(api);
        } finally {
            if (http != null) {
                http.close();
            }
            for (int i = nodes.size() - 1; i >= 0; i--) {
                nodes.get(i).close();
            }
        }
    }

    static ServingStack start(int port, int seed, Set<String> roles, ServingSystem.Settings settings) {
        // Artery logs each message class whose serialized size passes 10 KiB (and again at every 10% more):
        // the bytes a verification round puts on the wire, with the serializer the cluster really uses
        Config config = ConfigFactory.parseString("pekko.remote.artery.log-frame-size-exceeding = 10KiB")
                .withFallback(ClusterIT.node(port, seed, roles));
        return ServingStack.of("osd", target, draft, new ServingStack.Options(false, true, null, settings, config,
                roles, null));
    }
}
