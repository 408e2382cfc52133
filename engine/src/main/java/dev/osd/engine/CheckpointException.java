package dev.osd.engine;

import java.nio.file.Path;

/**
 * A checkpoint (config.json, model.safetensors, tokenizer.json) that cannot be used. The message always
 * names the file and, where there is one, the tensor or configuration field that was wrong, so that a
 * user can find the problem without reading code.
 */
public final class CheckpointException extends RuntimeException {

    private final Path file;
    private final String item;

    public CheckpointException(Path file, String item, String problem) {
        this(file, item, problem, null);
    }

    public CheckpointException(Path file, String item, String problem, Throwable cause) {
        super(file + (item == null ? "" : ": " + item) + ": " + problem, cause);
        this.file = file;
        this.item = item;
    }

    /** The file that was refused. */
    public Path file() {
        return file;
    }

    /** The tensor or field that was wrong, or null when the whole file was. */
    public String item() {
        return item;
    }
}
