package dev.osd.drafts;

import ai.djl.ndarray.NDManager;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import dev.osd.engine.CheckpointException;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import dev.osd.engine.SafeTensors;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The versions of one draft on disk: {@code dir/config.json} once, then per version
 * {@code vNNNNNNNN.safetensors} (float32) and its manifest {@code vNNNNNNNN.json} holding the file's SHA-256.
 * Both files are written to a temporary name, forced to disk and renamed; the manifest is renamed last, so a
 * version exists only once its weights are complete. A process killed halfway leaves at most a temporary file
 * or weights without a manifest, both ignored. On restart the newest version whose file matches its checksum
 * and loads cleanly wins; a damaged one is refused with a log line naming the file and the reason, and the
 * next older one is tried. Only the newest {@code keep} versions are kept.
 */
public final class DraftCheckpointStore {

    private static final Logger LOG = LoggerFactory.getLogger(DraftCheckpointStore.class);
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
    private static final Pattern MANIFEST = Pattern.compile("v(\\d{8,})\\.json");

    /** What the manifest of a version says. */
    public record Manifest(String draft, long version, long parent, String sha256, long bytes, String created,
            String note) {
    }

    /** A version read back from disk: its manifest and its weights (owned by the caller). */
    public record Stored(Manifest manifest, LlamaWeights weights) {
    }

    private final Path dir;
    private final String draft;
    private final int keep;

    /**
     * @param dir the draft's own directory (created on first save)
     * @param keep how many of the newest versions to keep, at least one
     */
    public DraftCheckpointStore(Path dir, String draft, int keep) {
        if (keep < 1) {
            throw new IllegalArgumentException("a checkpoint store keeps at least one version, got " + keep);
        }
        this.dir = dir;
        this.draft = draft;
        this.keep = keep;
    }

    public Path dir() {
        return dir;
    }

    static String name(long version) {
        return String.format("v%08d", version);
    }

    Path weightsFile(long version) {
        return dir.resolve(name(version) + ".safetensors");
    }

    Path manifestFile(long version) {
        return dir.resolve(name(version) + ".json");
    }

    /** Writes a version (weights, then manifest, each atomically) and drops versions beyond the newest keep. */
    public Manifest save(DraftVersion version, String note) throws IOException {
        Files.createDirectories(dir);
        LlamaWeights weights = version.model().weights();
        Path config = dir.resolve(LlamaConfig.FILE_NAME);
        if (!Files.exists(config)) {
            Path staging = Files.createTempDirectory(dir, "config");
            weights.config().write(staging);
            Files.move(staging.resolve(LlamaConfig.FILE_NAME), config, StandardCopyOption.ATOMIC_MOVE);
            Files.delete(staging);
        }
        Path file = weightsFile(version.version());
        SafeTensors.write(file, weights.toHost(), SafeTensors.DType.F32);
        Manifest m = new Manifest(draft, version.version(), version.parent(), sha256(file), Files.size(file),
                Instant.now().toString(), note);
        writeAtomically(manifestFile(version.version()), GSON.toJson(m).getBytes(StandardCharsets.UTF_8));
        prune();
        return m;
    }

    private static void writeAtomically(Path file, byte[] bytes) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                out.write(buf);
            }
            out.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Versions that have a manifest, newest first. */
    public List<Long> versions() throws IOException {
        List<Long> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (Stream<Path> files = Files.list(dir)) {
            files.forEach(f -> {
                Matcher m = MANIFEST.matcher(f.getFileName().toString());
                if (m.matches()) {
                    out.add(Long.parseLong(m.group(1)));
                }
            });
        }
        out.sort((a, b) -> Long.compare(b, a));
        return out;
    }

    /**
     * The newest version that passes every check, or empty when there is none. Refused versions are logged
     * and skipped, never deleted (someone may want to look at them).
     */
    public Optional<Stored> loadNewest(NDManager parent) throws IOException {
        for (long v : versions()) {
            try {
                return Optional.of(load(v, parent));
            } catch (CheckpointException e) {
                LOG.warn("refusing draft '{}' version {}: {}; trying an older version", draft, v, e.getMessage());
            }
        }
        return Optional.empty();
    }

    /** One version, checked against its manifest; a damaged one is refused with a {@link CheckpointException}. */
    public Stored load(long version, NDManager parent) {
        Path manifestFile = manifestFile(version);
        Manifest m;
        try {
            m = GSON.fromJson(Files.readString(manifestFile, StandardCharsets.UTF_8), Manifest.class);
        } catch (IOException | JsonParseException e) {
            throw new CheckpointException(manifestFile, null, "manifest cannot be read (" + e.getMessage() + ")", e);
        }
        if (m == null || m.version() != version || m.sha256() == null) {
            throw new CheckpointException(manifestFile, null, "manifest does not describe version " + version);
        }
        Path file = weightsFile(version);
        String actual;
        try {
            if (Files.size(file) != m.bytes()) {
                throw new CheckpointException(file, null, "has " + Files.size(file) + " bytes, the manifest says "
                        + m.bytes());
            }
            actual = sha256(file);
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot be read (" + e.getMessage() + ")", e);
        }
        if (!actual.equals(m.sha256())) {
            throw new CheckpointException(file, null, "checksum mismatch: manifest says " + m.sha256()
                    + ", the file hashes to " + actual);
        }
        LlamaConfig config = LlamaConfig.read(dir);
        LlamaWeights weights = LlamaWeights.fromHost(config, SafeTensors.read(file), file, parent);
        return new Stored(m, weights);
    }

    /** Whether a directory holds a checkpoint store (at least one manifest), rather than a plain model directory. */
    public static boolean isStore(Path dir) {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.anyMatch(f -> MANIFEST.matcher(f.getFileName().toString()).matches());
        } catch (IOException e) {
            return false;
        }
    }

    /** Loads a stored version as a draft version (for restart). */
    public DraftVersion toVersion(Stored stored) {
        return new DraftVersion(draft, stored.manifest().version(), stored.manifest().parent(),
                LlamaModel.of(stored.weights()));
    }

    private void prune() throws IOException {
        List<Long> all = versions();
        for (int i = keep; i < all.size(); i++) {
            long v = all.get(i);
            // manifest first: without it the weights are no longer a version
            Files.deleteIfExists(manifestFile(v));
            Files.deleteIfExists(weightsFile(v));
        }
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            byte[] buf = new byte[1 << 16];
            while (in.read(buf) >= 0) {
                // reading feeds the digest
            }
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JRE", e);
        }
    }
}
