package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.DraftWeights.Received;
import dev.osd.actors.ServingSystem;
import dev.osd.app.ServingStack;
import dev.osd.http.HttpServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The system across nodes on Pekko Cluster, four actor systems in this JVM on loopback: a gateway (HTTP), the
 * target, a draft replica with the drafts' trainers, and a second draft replica. Requests are served end to end
 * with speculation and online training, new versions travel to the other replica, and stopping the trainer's
 * node mid-traffic loses no request; it restarts, rejoins and serves again.
 */
class ClusterIT {

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A loopback member that checks every message it sends can cross nodes. */
    static Config node(int port, int seed, Set<String> roles) {
        return ConfigFactory.parseString("pekko.actor.serialize-messages = on")
                .withFallback(ServingStack.loopbackNode(port, seed, roles));
    }

    static ServingStack start(int port, int seed, Set<String> roles, Consumer<Received> received) {
        return ServingStack.embedded("osd", new ServingStack.Options(true, true, null,
                new ServingSystem.Settings(32, 16, Duration.ofSeconds(2), 0.1, 1, 5), node(port, seed, roles),
                roles, received));
    }

    static String text(HttpClientSupport.Reply r) {
        assertEquals(200, r.status(), r.body());
        return r.json().getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
    }

    @Test
    void servesAcrossNodesMovesWeightsAndLosesNothingWhenANodeGoes() throws Exception {
        System.setProperty("osd.home", EmbeddedModelsTest.repositoryRoot().toString());
        int seed = freePort();
        int targetPort = freePort();
        int trainerPort = freePort();
        int replicaPort = freePort();
        // the first new math version a receiver publishes, told by the receiver itself
        CompletableFuture<Received> mathArrived = new CompletableFuture<>();
        Consumer<Received> received = r -> {
            if (r.draft().equals("math") && r.version() > 0) {
                mathArrived.complete(r);
            }
        };
        List<ServingStack> nodes = new ArrayList<>();
        ServingStack trainerNode = null;
        HttpServer http = null;
        try {
            ServingStack gateway = start(seed, seed, Set.of("gateway"), received);
            nodes.add(gateway);
            nodes.add(start(targetPort, seed, Set.of("target"), received));
            trainerNode = start(trainerPort, seed, Set.of("draft", "trainer"), received);
            nodes.add(start(replicaPort, seed, Set.of("draft"), received));
            http = HttpServer.start(gateway.system(), gateway.tokenizer(),
                    HttpServer.Settings.builder().optPort(0).build());
            HttpClientSupport api = new HttpClientSupport(http.url());
            awaitReady(api, 2);
            awaitUp(api, 4);

            // the trainers are cluster singletons: they start once the trainer node is up, then register
            JsonObject cluster = Eventually.awaitAssert(Duration.ofSeconds(30), () -> {
                JsonObject c = api.get("/cluster").json();
                assertFalse(c.getAsJsonObject("services").getAsJsonArray("trainer-math").isEmpty(), c.toString());
                return c;
            });
            assertEquals(4, cluster.getAsJsonArray("members").size(), cluster.toString());
            for (JsonElement m : cluster.getAsJsonArray("members")) {
                assertEquals("Up", m.getAsJsonObject().get("status").getAsString());
            }
            assertEquals(1, cluster.getAsJsonObject("services").getAsJsonArray("target").size());
            assertEquals(2, cluster.getAsJsonObject("services").getAsJsonArray("draft-math").size());
            assertEquals(List.of("pekko://osd@127.0.0.1:" + trainerPort).toString(),
                    cluster.getAsJsonObject("services").getAsJsonArray("trainer-math").toString()
                            .replace("\"", ""));

            // served across nodes with speculation, text = target-only text; the drafts learn on the trainer node
            List<String> prompts = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                prompts.add(HttpApiTest.prompt(i % 2 == 0 ? "math" : "sql", 300 + i));
            }
            List<String> expected = new ArrayList<>();
            long drafted = 0;
            for (String p : prompts) {
                expected.add(text(api.post("/v1/completions", HttpApiTest.speculationOff(HttpApiTest.completion(p,
                        32)))));
                HttpClientSupport.Reply on = api.post("/v1/completions", HttpApiTest.completion(p, 32));
                assertEquals(expected.get(expected.size() - 1), text(on));
                drafted += HttpApiTest.sd(on.json()).get("num_draft_tokens").getAsLong();
            }
            assertTrue(drafted > 50, "speculation ran across nodes: " + drafted);
            Received math = mathArrived.get(30, TimeUnit.SECONDS);
            assertTrue(math.version() > 0, "a new math version reached the other replica: " + math);

            // the gateway node holds no draft, yet knows them all and what its requests were served by
            JsonObject drafts = api.get("/v1/drafts").json();
            assertEquals(5, drafts.getAsJsonArray("data").size(), drafts.toString());
            for (JsonElement d : drafts.getAsJsonArray("data")) {
                assertEquals("on another node", d.getAsJsonObject().getAsJsonObject("trainer").get("state")
                        .getAsString());
            }
            JsonObject named = HttpApiTest.completion(prompts.get(1), 16);
            JsonObject spec = new JsonObject();
            spec.addProperty("draft", "math");
            named.add("speculation", spec);
            HttpClientSupport.Reply byName = api.post("/v1/completions", named);
            assertEquals("math", HttpApiTest.sd(byName.json()).get("draft").getAsString(), byName.body());

            // training is paused and resumed from the gateway, on the node that trains
            final ServingStack trainers = trainerNode;
            assertEquals(200, api.post("/v1/training/pause", "").status());
            awaitTraining(trainers, true);
            assertEquals(200, api.post("/v1/drafts/math/resume", "").status());
            Eventually.awaitAssert(Duration.ofSeconds(10), () -> assertFalse(trainers.system().drafts().get("math")
                    .trainer().stats().paused(), "math resumed"));
            assertTrue(trainers.system().drafts().get("sql").trainer().stats().paused(), "sql still paused");
            assertEquals(200, api.post("/v1/training/resume", "").status());
            awaitTraining(trainers, false);

            // the trainer's node goes mid-traffic: every request is still answered, with the target-only text
            List<CompletableFuture<HttpResponse<String>>> inFlight = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                inFlight.add(HttpClientSupport.CLIENT.sendAsync(api.request("/v1/completions")
                        .POST(HttpRequest.BodyPublishers.ofString(HttpApiTest.completion(prompts.get(i), 32)
                                .toString())).build(), HttpResponse.BodyHandlers.ofString()));
                if (i == 4) {
                    trainerNode.close();
                    trainerNode = null;
                }
            }
            for (int i = 0; i < 16; i++) {
                HttpResponse<String> r = inFlight.get(i).get(120, TimeUnit.SECONDS);
                assertEquals(200, r.statusCode(), r.body());
                assertEquals(expected.get(i), JsonParser.parseString(r.body()).getAsJsonObject()
                        .getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString(), "request " + i);
            }

            // it restarts and rejoins; its replicas and the trainers serve again
            trainerNode = start(trainerPort, seed, Set.of("draft", "trainer"), received);
            awaitReady(api, 2);
            HttpClientSupport.Reply again = api.post("/v1/completions", HttpApiTest.completion(prompts.get(0), 32));
            assertEquals(expected.get(0), text(again));
            assertTrue(HttpApiTest.sd(again.json()).get("num_draft_tokens").getAsLong() > 0);
        } finally {
            if (http != null) {
                http.close();
            }
            if (trainerNode != null) {
                trainerNode.close();
            }
            for (int i = nodes.size() - 1; i >= 0; i--) {
                nodes.get(i).close();
            }
        }
    }

    /** Until every trainer on {@code node} is paused (or every one runs). */
    static void awaitTraining(ServingStack node, boolean paused) throws Exception {
        Eventually.awaitAssert(Duration.ofSeconds(10), () -> assertTrue(node.system().drafts().values().stream()
                .allMatch(d -> d.trainer().stats().paused() == paused),
                "the trainers on the trainer node become " + (paused ? "paused" : "active")));
    }

    /** Until the gateway sees {@code members} members, all Up. */
    static void awaitUp(HttpClientSupport api, int members) throws Exception {
        Eventually.awaitAssert(Duration.ofSeconds(60), () -> {
            JsonObject c = api.get("/cluster").json();
            long up = 0;
            for (JsonElement m : c.getAsJsonArray("members")) {
                up += m.getAsJsonObject().get("status").getAsString().equals("Up") ? 1 : 0;
            }
            assertEquals(members, c.getAsJsonArray("members").size(), c.toString());
            assertEquals(members, up, "members Up: " + c);
        });
    }

    /** Until the gateway reaches the target and {@code replicas} replicas of every draft. */
    static void awaitReady(HttpClientSupport api, int replicas) throws Exception {
        Eventually.awaitAssert(Duration.ofSeconds(60), () -> {
            HttpClientSupport.Reply r = api.get("/health/ready");
            assertEquals(200, r.status(), r.body());
            for (Map.Entry<String, JsonElement> e : r.json().getAsJsonObject("draft_replicas").entrySet()) {
                assertTrue(e.getValue().getAsInt() >= replicas, e.getKey() + " replicas: " + r.body());
            }
        });
    }
}
