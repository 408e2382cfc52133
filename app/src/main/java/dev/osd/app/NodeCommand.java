package dev.osd.app;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.osd.actors.ServingSystem;
import dev.osd.actors.TargetDevice;
import dev.osd.http.HttpServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.management.javadsl.PekkoManagement;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./osd node}: one member of a Pekko Cluster with some of the roles (gateway, target, draft, trainer).
 * Nodes find each other through the seed nodes, and the services through the Receptionist; a gateway serves
 * the HTTP API. {@code ./osd serve} is the one-node, every-role case without a cluster, on the same {@link #run}.
 */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = "Run one node of an OSD cluster (roles: gateway, target, draft, trainer).")
final class NodeCommand implements Callable<Integer> {

    @Option(names = "--roles", split = ",", defaultValue = "gateway,target,draft,trainer",
            description = "The roles of this node (default: all).")
    List<String> roles;

    @Option(names = "--host", description = "Address to bind and advertise, for Artery and HTTP (default: the "
            + "configuration's, 127.0.0.1).")
    String host;

    @Option(names = "--cluster-port", description = "Pekko remoting (Artery) port (default: the configuration's, "
            + "25520).")
    Integer clusterPort;

    @Option(names = "--port", description = "HTTP port of a gateway node (default: osd.serve.port, 8080; 0: any).")
    Integer port;

    @Option(names = "--management-port", description = "Start pekko-management's health checks (/alive, /ready) "
            + "on this port (default: off).")
    Integer managementPort;

    @Option(names = "--seed-nodes", split = ",", description = "host:port of the seed nodes (default: this node).")
    List<String> seeds;

    @Option(names = "--config", description = "A HOCON file over cluster-config and the defaults.")
    Path config;

    @Option(names = "--state", description = "Where a trainer node keeps its drafts' checkpoint stores "
            + "(default: osd.serve.state).")
    Path state;

    @Option(names = "--model", description = "Target model directory (default: the embedded target).")
    Path model;

    @Option(names = "--draft", description = "Base draft model directory (default: the embedded draft).")
    Path draft;

    static final String SYSTEM = "osd";

    @Override
    public Integer call() throws Exception {
        Set<String> roleSet = new LinkedHashSet<>(roles);
        for (String r : roleSet) {
            if (!ServingSystem.ALL_ROLES.contains(r)) {
                throw new IllegalArgumentException("--roles: unknown role '" + r + "' (gateway, target, draft, trainer)");
            }
        }
        Config c = config(roleSet);
        return run(new Run(c, roleSet, model, draft, roleSet.contains("trainer") ? ServeConfig.state(c, state) : null,
                true, true, host, port != null ? port : c.getInt("osd.serve.port"), managementPort));
    }

    /**
     * What one node runs, for {@code serve} and {@code node} alike.
     *
     * @param state the drafts' checkpoint stores, or null
     * @param online whether the drafts learn from their traffic
     * @param speculate false: target-only serving (no drafts)
     * @param port the HTTP port of a gateway
     * @param managementPort pekko-management's health checks, or null for none
     */
    record Run(Config config, Set<String> roles, Path model, Path draft, Path state, boolean online,
            boolean speculate, String host, int port, Integer managementPort) {
    }

    /**
     * Runs a node until SIGTERM (a gateway drains first), another exit of the JVM, or its actor system's end; the
     * trainers save their drafts as it stops.
     */
    static int run(Run r) throws Exception {
        Config c = r.config();
        Set<String> roles = r.roles();
        HttpServer.Settings http = roles.contains("gateway") ? ServeConfig.http(c, r.host(), r.port(), r.model()) : null;
        if (http != null) {
            ServeConfig.requireBindable(http);
        }
        ModelPair.requireDirectory("--model", r.model());
        ModelPair.requireDirectory("--draft", r.draft());
        Duration grace = ServeConfig.shutdownGrace(c);
        CountDownLatch done = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        GracefulShutdown shutdown = GracefulShutdown.install();
        System.out.println("loading models ...");
        // only the weights the roles use: a gateway needs the target's configuration and tokenizer
        try (ModelPair models = ModelPair.open(r.model(), r.draft(),
                TargetDevice.resolve(c.getString("osd.target.device")), roles.contains("target"),
                roles.contains("draft") || roles.contains("trainer"));
                ServingStack stack = new ServingStack(SYSTEM, models, new ServingStack.Options(r.online(),
                        r.speculate(), r.state(), ServeConfig.serving(c), c, roles, null));
                HttpServer server = http == null ? null
                        : HttpServer.start(stack.system(), models.tokenizer(), models.tokenizerConfig(), http)) {
            if (roles.containsAll(ServingSystem.ALL_ROLES)) {
                // its own target and drafts: nothing is announced before the first request can run at full speed
                stack.awaitReady(Duration.ofMinutes(2));
            }
            if (r.managementPort() != null) {
                PekkoManagement.get(Adapter.toClassic(stack.system().actorSystem())).start().toCompletableFuture()
                        .join();
            }
            System.out.printf("OSD node %s roles %s%n", stack.system().actorSystem().address(), roles);
            if (server != null) {
                System.out.printf("OSD serves '%s' at %s%n", http.model(), server.url());
                System.out.printf("  OpenAI API:  %s/v1  (e.g. OPENAI_BASE_URL=%s/v1)%n", server.url(), server.url());
                System.out.printf("  dashboard:   %s/%n  metrics:     %s/metrics%n  drafts:      %s/v1/drafts%n",
                        server.url(), server.url(), server.url());
            }
            System.out.printf("  drafts %s, training %s, state %s%n", stack.system().drafts().keySet(),
                    r.online() ? "on" : "off", r.state() == null ? "none" : r.state().toAbsolutePath());
            // SIGTERM / Ctrl-C: a gateway drains first (GracefulShutdown), then the stack closes and saves the drafts
            shutdown.signal().thenRun(done::countDown);
            // any other exit of the JVM: hold it until the trainers saved their drafts
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                done.countDown();
                try {
                    closed.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            stack.system().actorSystem().getWhenTerminated().thenRun(done::countDown);
            done.await();
            if (server != null) {
                shutdown.drain(stack.system(), grace);
            }
            System.out.println("stopping: trainers save their drafts ...");
        } finally {
            // said before the hook is released: once it returns, the JVM may halt at any moment
            System.out.println("stopped");
            closed.countDown();
        }
        return 0;
    }

    /** The node's configuration: flags over --config over the cluster defaults in osd-node.conf over reference.conf. */
    Config config(Set<String> roleSet) {
        Config flags = ConfigFactory.empty()
                .withValue("pekko.cluster.roles", ConfigValueFactory.fromIterable(new ArrayList<>(roleSet)));
        if (host != null) {
            flags = flags.withValue("pekko.remote.artery.canonical.hostname", ConfigValueFactory.fromAnyRef(host));
        }
        if (clusterPort != null) {
            flags = flags.withValue("pekko.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(clusterPort));
        }
        if (managementPort != null) {
            flags = flags.withValue("pekko.management.http.port", ConfigValueFactory.fromAnyRef(managementPort));
        }
        String self = (host != null ? host : "127.0.0.1") + ":" + (clusterPort != null ? clusterPort : 25520);
        List<String> seedUris = new ArrayList<>();
        for (String seed : seeds == null || seeds.isEmpty() ? List.of(self) : seeds) {
            seedUris.add("pekko://" + SYSTEM + "@" + seed.trim());
        }
        if (seeds != null || config == null) {
            // with --config and no --seed-nodes, the file decides (Kubernetes: the StatefulSet's stable names)
            flags = flags.withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(seedUris));
        }
        return ServeConfig.resolve(flags.withFallback(ServeConfig.file(config))
                .withFallback(ConfigFactory.parseResources("osd-node.conf")).withFallback(ConfigFactory.load()));
    }
}
