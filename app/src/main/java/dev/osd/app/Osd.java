package dev.osd.app;

import dev.osd.engine.CheckpointException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code osd} command line. */
@Command(name = "osd", mixinStandardHelpOptions = true, version = "osd 0.1.0",
        description = "Online speculative decoding: serve a target model with drafts that learn from traffic.",
        subcommands = {ServeCommand.class, NodeCommand.class, GenerateCommand.class, TrainCommand.class, BenchCommand.class,
            MakeModelCommand.class})
public final class Osd implements Runnable {

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    /** Where the embedded models live: the osd.home property or $OSD_HOME, then models/; else ./models. */
    public static Path modelsHome() {
        String home = System.getProperty("osd.home", System.getenv("OSD_HOME"));
        return (home == null ? Path.of("") : Path.of(home)).toAbsolutePath().resolve("models");
    }

    /** The embedded model of a role ("target", "draft"), or null when it is not there yet. */
    static Path embedded(String role) {
        Path dir = modelsHome().resolve(role);
        return Files.isRegularFile(dir.resolve("config.json")) ? dir : null;
    }

    public static int execute(String... args) {
        return new CommandLine(new Osd()).setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler(Osd::reportError).execute(args);
    }

    /** A refused checkpoint or a bad argument is the user's to fix: one clear line, no stack trace. */
    private static int reportError(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) throws Exception {
        if (e instanceof CheckpointException || e instanceof IllegalArgumentException) {
            cmd.getErr().println("osd " + cmd.getCommandName() + ": " + e.getMessage());
            cmd.getErr().flush();
            return 1;
        }
        throw e;
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }
}
