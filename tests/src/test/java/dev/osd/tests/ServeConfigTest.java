package dev.osd.tests;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code osd serve} and {@code osd node} refuse a missing, unparsable or mistyped --config, or an unknown role. */
class ServeConfigTest {

    @TempDir
    Path dir;

    @Test
    void aBrokenConfigurationOrRoleIsRefusedWithOneClearLine() throws Exception {
        Path missing = dir.resolve("nope.conf");
        GenerateCommandTest.Run none = GenerateCommandTest.run("serve", "--config", missing.toString());
        assertTrue(none.code() != 0, none.out());
        assertTrue(none.err().contains("--config " + missing + ": no such file"), none.err());
        Path bad = Files.writeString(dir.resolve("bad.conf"), "osd.serve { port = [unclosed");
        GenerateCommandTest.Run broken = GenerateCommandTest.run("serve", "--config", bad.toString());
        assertTrue(broken.code() != 0 && broken.err().contains("--config " + bad), broken.err());
        Path wrongType = Files.writeString(dir.resolve("type.conf"), "osd.serve.slots = many");
        GenerateCommandTest.Run typed = GenerateCommandTest.run("serve", "--config", wrongType.toString());
        assertTrue(typed.code() != 0 && typed.err().contains("slots"), typed.err());
        GenerateCommandTest.Run role = GenerateCommandTest.run("node", "--roles", "gateway,chef");
        assertTrue(role.code() != 0 && role.err().contains("unknown role 'chef'"), role.err());
    }
}
