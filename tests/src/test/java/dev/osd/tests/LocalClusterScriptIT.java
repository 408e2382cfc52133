package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cluster-config/local-cluster.sh}: three separate JVMs (gateway; target; draft + trainer) form a cluster
 * on this machine, the script prints the gateway's URL, requests go through it, and {@code down} stops them all.
 */
class LocalClusterScriptIT {

    @TempDir
    Path dir;

    /** The script's output; it fails the test if it runs past {@code seconds} or exits with other than 0. */
    static String script(Path root, List<String> args, Map<String, String> env, int seconds) throws Exception {
        List<String> command = new ArrayList<>(List.of("bash", root.resolve("cluster-config/local-cluster.sh")
                .toString()));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().putAll(env);
        Processes.Result r = Processes.run(pb, Duration.ofSeconds(seconds));
        assertTrue(r.exited(), "local-cluster.sh " + args + " ran past " + seconds + " s: " + r.out());
        assertEquals(0, r.code(), r.out());
        return r.out();
    }

    static boolean free(int port) {
        try (ServerSocket s = new ServerSocket(port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void upServesThroughTheGatewayAndDownStopsEveryNode() throws Exception {
        Path root = EmbeddedModelsTest.repositoryRoot();
        int base = 31000 + (int) (ProcessHandle.current().pid() % 2000) * 3;
        while (!(free(base) && free(base + 1) && free(base + 2))) {
            base += 3;
        }
        int management = base + 6100;
        while (!(free(management) && free(management + 1) && free(management + 2))) {
            management += 3;
        }
        int http;
        try (ServerSocket s = new ServerSocket(0)) {
            http = s.getLocalPort();
        }
        // the nodes run from this build's classes (the ./osd launcher would build the jar first)
        Path osd = dir.resolve("osd");
        Files.writeString(osd, "#!/bin/sh\nexec \"" + Path.of(System.getProperty("java.home"), "bin", "java")
                + "\" --add-modules jdk.incubator.vector $OSD_JAVA_OPTS -Dosd.home=\"" + root + "\" -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1"
                + " -cp \"" + System.getProperty("java.class.path") + "\" dev.osd.app.Osd \"$@\"\n");
        Files.setPosixFilePermissions(osd, PosixFilePermissions.fromString("rwxr-xr-x"));
        Map<String, String> env = Map.of("OSD_CMD", osd.toString(), "OSD_RUN_DIR",
                dir.resolve("run").toString(), "OSD_HTTP_PORT", Integer.toString(http), "OSD_CLUSTER_PORT",
                Integer.toString(base), "OSD_MANAGEMENT_PORT", Integer.toString(management), "OSD_NODE_HEAP", "1500m");
        try {
            String up = script(root, List.of("up", "3"), env, 240);
            String[] lines = up.trim().split("\n");
            String url = lines[lines.length - 1];
            assertEquals("http://127.0.0.1:" + http, url, up);

            HttpClientSupport api = new HttpClientSupport(url);
            ClusterIT.awaitUp(api, 3);
            JsonObject cluster = api.get("/cluster").json();
            assertEquals(3, cluster.getAsJsonArray("members").size());
            for (int i = 0; i < 4; i++) {
                HttpClientSupport.Reply r = api.post("/v1/completions",
                        HttpApiTest.completion(HttpApiTest.prompt("code", 400 + i), 24));
                assertEquals(200, r.status(), r.body());
                assertEquals("code", HttpApiTest.sd(r.json()).get("draft").getAsString());
            }
            for (JsonElement m : cluster.getAsJsonArray("members")) {
                assertEquals("Up", m.getAsJsonObject().get("status").getAsString());
            }
            String status = script(root, List.of("status"), env, 30);
            assertTrue(status.contains("\"members\""), status);
            for (int node = 1; node <= 3; node++) {
                // pekko-management's readiness: an Up member
                assertTrue(status.contains("node" + node + ": pid") && status.contains("running, ready"), status);
            }
            assertEquals(200, HttpClientSupport.send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + (management + 1) + "/alive")).build()).status());
        } finally {
            String down = script(root, List.of("down"), env, 120);
            assertTrue(down.contains("stopped 3 nodes"), down);
        }
    }
}
