package dev.osd.app;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.ServingSystem;
import dev.osd.actors.TargetDevice;
import dev.osd.http.HttpServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./osd serve}: one node with every role (gateway, target, drafts, trainers) over the embedded models
 * (or given ones), the OpenAI-compatible API, the dashboard and /metrics on one port.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve the OpenAI-compatible API with online speculative decoding on one machine.")
final class ServeCommand implements Callable<Integer> {

    @Option(names = "--port", description = "Port to listen on (default: osd.serve.port, 8080; 0 picks a free one).")
    Integer port;

    @Option(names = "--host", description = "Address to bind (default: osd.serve.host, 127.0.0.1).")
    String host;

    @Option(names = "--config", description = "A HOCON file over the defaults (osd.serve.*, osd.target.*, pekko.*).")
    Path config;

    @Option(names = "--model", description = "Target model directory (default: the embedded target).")
    Path model;

    @Option(names = "--draft", description = "Base draft model directory (default: the embedded draft).")
    Path draft;

    @Option(names = "--state", description = "Where the drafts' checkpoint stores live (default: osd.serve.state, "
            + "./osd-state); drafts resume from them at start.")
    Path state;

    @Option(names = "--no-training", description = "Serve the base drafts without online distillation.")
    boolean noTraining;

    @Option(names = "--no-speculation", description = "Target-only serving (no drafts).")
    boolean noSpeculation;

    /** Set by tests: called with the server once it listens. */
    static volatile Consumer<HttpServer> onListening;
    /** Set by tests: counted down to stop the server. */
    static volatile CountDownLatch stop;

    @Override
    public Integer call() throws Exception {
        Config c = loadConfig();
        Path stateDir = ServeConfig.state(c, state);
        ServingSystem.Settings settings = ServeConfig.serving(c);
        HttpServer.Settings http = ServeConfig.http(c, host, port != null ? port : c.getInt("osd.serve.port"),
                model);
        ServeConfig.requireBindable(http);
        ModelPair.requireDirectory("--model", model);
        ModelPair.requireDirectory("--draft", draft);
        System.out.println("loading models ...");
        CountDownLatch closed = new CountDownLatch(1);
        Duration grace = ServeConfig.shutdownGrace(c);
        GracefulShutdown shutdown = GracefulShutdown.install();
        try (ModelPair models = ModelPair.open(model, draft,
                TargetDevice.resolve(c.getString("osd.target.device")));
                ServingStack stack = new ServingStack("osd", models, new ServingStack.Options(!noTraining,
                        !noSpeculation, stateDir, settings, c));
                HttpServer server = HttpServer.start(stack.system(), models.tokenizer(), models.tokenizerConfig(), http)) {
            stack.awaitReady(Duration.ofMinutes(2));
            System.out.printf("OSD serves '%s' at %s%n", http.model(), server.url());
            System.out.printf("  OpenAI API:  %s/v1  (e.g. OPENAI_BASE_URL=%s/v1)%n", server.url(), server.url());
            System.out.printf("  dashboard:   %s/%n  metrics:     %s/metrics%n  drafts:      %s/v1/drafts%n",
                    server.url(), server.url(), server.url());
            System.out.printf("  drafts %s, training %s, state %s%n", stack.system().drafts().keySet(),
                    noTraining ? "off" : "on", stateDir == null ? "none" : stateDir.toAbsolutePath());
            CountDownLatch done = stop != null ? stop : new CountDownLatch(1);
            // SIGTERM / Ctrl-C: a drain first (GracefulShutdown), then the stack closes and saves the drafts
            shutdown.signal().thenRun(done::countDown);
            // any other exit of the JVM: hold it until the trainers saved their drafts
            Thread hook = new Thread(() -> {
                done.countDown();
                try {
                    closed.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Runtime.getRuntime().addShutdownHook(hook);
            if (onListening != null) {
                onListening.accept(server);
            }
            done.await();
            shutdown.drain(stack.system(), grace);
            System.out.println("stopping: trainers save their drafts ...");
        } finally {
            // said before the hook is released: once it returns, the JVM may halt at any moment
            System.out.println("stopped");
            closed.countDown();
        }
        return 0;
    }

    private Config loadConfig() {
        return ServeConfig.resolve(ServeConfig.file(config).withFallback(ConfigFactory.load()));
    }
}
