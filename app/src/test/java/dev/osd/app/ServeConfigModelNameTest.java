package dev.osd.app;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The id the API serves and the CORS origins, as serve and node read them from the configuration. */
class ServeConfigModelNameTest {

    static Config with(String hocon) {
        return ConfigFactory.parseString(hocon).withFallback(ConfigFactory.load()).resolve();
    }

    @Test
    void theModelIdIsTheConfiguredNameElseTheDirectoryElseEmbedded() {
        Config defaults = with("");
        assertEquals("osd-embedded", ServeConfig.modelName(defaults, null));
        assertEquals("TinyLlama-1.1B-Chat", ServeConfig.modelName(defaults, Path.of("/models/TinyLlama-1.1B-Chat/")));
        assertEquals("target", ServeConfig.modelName(defaults, Path.of("models/./target")));
        Config named = with("osd.serve.model-name = \"org/served\"");
        assertEquals("org/served", ServeConfig.modelName(named, Path.of("/models/x")));
        assertEquals("org/served", ServeConfig.http(named, null, 0, Path.of("/models/x")).model());
    }

    @Test
    void corsIsOffUnlessOriginsAreConfigured() {
        assertEquals(List.of(), ServeConfig.http(with(""), null, 0, null).corsAllowedOrigins());
        assertEquals(List.of("https://a.example"), ServeConfig.http(
                with("osd.serve.cors-allowed-origins = [\"https://a.example\"]"), null, 0, null).corsAllowedOrigins());
    }
}
