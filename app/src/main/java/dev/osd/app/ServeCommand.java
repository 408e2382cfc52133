package dev.osd.app;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.ServingSystem;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./osd serve}: one node with every role (gateway, target, drafts, trainers) over the embedded models
 * (or given ones), the OpenAI-compatible API, the dashboard and /metrics on one port: {@code ./osd node} with
 * every role and no cluster ({@link NodeCommand#run}).
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

    @Override
    public Integer call() throws Exception {
        Config c = ServeConfig.resolve(ServeConfig.file(config).withFallback(ConfigFactory.load()));
        // one node with every role, outside a cluster: the same path as ./osd node
        return NodeCommand.run(new NodeCommand.Run(c, ServingSystem.ALL_ROLES, model, draft,
                ServeConfig.state(c, state), !noTraining, !noSpeculation, host,
                port != null ? port : c.getInt("osd.serve.port"), null));
    }
}
