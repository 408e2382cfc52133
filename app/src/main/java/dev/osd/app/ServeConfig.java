package dev.osd.app;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.ServingSystem;
import dev.osd.http.HttpServer;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** What {@code serve} and {@code node} read from {@code osd.serve.*} and {@code osd.target.*}. */
final class ServeConfig {

    private ServeConfig() {
    }

    static ServingSystem.Settings serving(Config c) {
        return ServingSystem.Settings.of(c);
    }

    /**
     * @param host the --host flag or null
     * @param port the port to listen on
     * @param model the --model directory, or null for the embedded target
     */
    static HttpServer.Settings http(Config c, String host, int port, Path model) {
        Config s = c.getConfig("osd.serve");
        return HttpServer.Settings.builder().optHost(host != null ? host : s.getString("host")).optPort(port)
                .optModel(modelName(c, model)).optMaxBodyBytes(s.getBytes("max-body-bytes"))
                .optApiKey(key(s, "api-key", "OSD_API_KEY")).optAdminKey(key(s, "admin-key", "OSD_ADMIN_KEY"))
                .optMaxDraftTokens(s.getInt("max-draft-tokens"))
                .optMaxGenerationsPerRequest(s.getInt("max-generations-per-request"))
                .optBodyTimeout(s.getDuration("body-timeout")).optCorsAllowedOrigins(s.getStringList("cors-allowed-origins"))
                .optVllmNames(c.getBoolean("osd.metrics.vllm-names")).optRequestTimeout(s.getDuration("request-timeout"))
                .build();
    }

    /** The id the API serves: osd.serve.model-name, else the target directory's name, else "osd-embedded". */
    static String modelName(Config c, Path model) {
        String configured = c.getString("osd.serve.model-name");
        if (!configured.isEmpty()) {
            return configured;
        }
        if (model == null) {
            return "osd-embedded";
        }
        Path name = model.toAbsolutePath().normalize().getFileName();
        return name == null ? "osd-embedded" : name.toString();
    }

    /**
     * Refuses, with one line and before any model loads, an address that cannot be bound (a port in use, an
     * address not of this machine). Port 0 picks a free port and is never refused.
     */
    static void requireBindable(HttpServer.Settings http) {
        if (http.port() == 0) {
            return;
        }
        try (ServerSocket probe = new ServerSocket()) {
            probe.bind(new InetSocketAddress(http.host(), http.port()));
        } catch (BindException e) {
            throw new IllegalArgumentException("--port " + http.port() + ": " + http.host() + ":" + http.port()
                    + " is in use (another server?); choose another port with --port");
        } catch (IOException e) {
            throw new IllegalArgumentException("--host " + http.host() + " --port " + http.port() + ": cannot listen ("
                    + e.getMessage() + ")");
        }
    }

    /** How long a SIGTERM lets requests in flight finish before it ends them. */
    static Duration shutdownGrace(Config c) {
        return c.getDuration("osd.serve.shutdown-grace");
    }

    /** The --state flag, else {@code osd.serve.state}; null when that is empty (no checkpoint stores). */
    static Path state(Config c, Path flag) {
        String configured = c.getString("osd.serve.state");
        return flag != null ? flag : configured.isEmpty() ? null : Path.of(configured);
    }

    /**
     * The --config file (empty when none is given), refused with one clear line when it is missing or not
     * HOCON; it goes over the defaults the caller puts below it.
     */
    static Config file(Path config) {
        if (config == null) {
            return ConfigFactory.empty();
        }
        if (!Files.isRegularFile(config)) {
            throw new IllegalArgumentException("--config " + config + ": no such file");
        }
        try {
            return ConfigFactory.parseFile(config.toFile());
        } catch (ConfigException e) {
            throw new IllegalArgumentException("--config " + config + ": " + e.getMessage(), e);
        }
    }

    /** Resolves a configuration, a wrong value in --config refused with one clear line. */
    static Config resolve(Config c) {
        try {
            Config resolved = c.resolve();
            serving(resolved);
            http(resolved, null, 0, null);
            shutdownGrace(resolved);
            return resolved;
        } catch (ConfigException e) {
            throw new IllegalArgumentException("configuration: " + e.getMessage(), e);
        }
    }

    /** A key from the environment, else the configuration; null when neither sets one. */
    private static String key(Config s, String path, String env) {
        String fromEnv = System.getenv(env);
        if (fromEnv != null && !fromEnv.isEmpty()) {
            return fromEnv;
        }
        String v = s.getString(path);
        return v.isEmpty() ? null : v;
    }
}
