package dev.osd.app;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * llama.cpp as a peer to compare against: node-llama-cpp's prebuilt CPU binary, installed from npm into a
 * cache folder outside the sources, driven through bench/peers/decode.mjs, one JSON line per request.
 */
final class LlamaCppPeer implements AutoCloseable {

    /** One greedy decode as llama.cpp ran it. */
    record Decode(int[] tokens, double ttftMillis, double tpotMillis) {
    }

    private static final long READY_SECONDS = 120;
    private static final long DECODE_SECONDS = 120;
    private static final long NPM_MINUTES = 10;
    private static final String END = "\u0000end";

    private final Process process;
    private final Writer stdin;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final Path log;
    final JsonObject ready;

    private LlamaCppPeer(Process process, Path log) throws IOException {
        this.process = process;
        this.log = log;
        this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // the process went away; next() reports it
            } finally {
                lines.add(END);
            }
        }, "llama-peer-stdout");
        reader.setDaemon(true);
        reader.start();
        this.ready = next(READY_SECONDS);
        if (!ready.has("ready")) {
            throw new IllegalStateException("llama.cpp peer did not start: " + ready + "; see " + log);
        }
    }

    /**
     * Makes sure {@code cache/node_modules} holds the locked packages of {@code benchDir}'s package.json:
     * {@code npm ci} there whenever the lock changed. Install scripts are not run (node-llama-cpp's would
     * offer to build from source); the prebuilt binary comes as a package of its own.
     */
    static Path install(Path benchDir, Path cache) throws IOException, InterruptedException {
        Files.createDirectories(cache);
        byte[] lock = Files.readAllBytes(benchDir.resolve("package-lock.json"));
        Path installed = cache.resolve("package-lock.json");
        Path modules = cache.resolve("node_modules");
        boolean current = Files.isRegularFile(modules.resolve("node-llama-cpp/package.json"))
                && Files.isRegularFile(installed) && Arrays.equals(lock, Files.readAllBytes(installed));
        if (current) {
            return modules;
        }
        Files.copy(benchDir.resolve("package.json"), cache.resolve("package.json"),
                StandardCopyOption.REPLACE_EXISTING);
        Files.write(installed, lock);
        System.out.println("installing node-llama-cpp (prebuilt CPU binary) into " + cache);
        Process npm = run(new ProcessBuilder("npm", "ci", "--omit=optional", "--ignore-scripts", "--no-audit",
                "--no-fund").directory(cache.toFile()).inheritIO());
        if (!npm.waitFor(NPM_MINUTES, TimeUnit.MINUTES)) {
            npm.destroyForcibly();
            throw new IllegalStateException("npm ci in " + cache + " took over " + NPM_MINUTES + " minutes");
        }
        if (npm.exitValue() != 0 || !Files.isRegularFile(modules.resolve("node-llama-cpp/package.json"))) {
            Files.deleteIfExists(installed);
            throw new IllegalStateException("npm ci in " + cache + " failed (exit " + npm.exitValue()
                    + "); the npm registry must be reachable for the first run");
        }
        return modules;
    }

    /** Starts node on {@code script} with {@code model}; its stderr goes to {@code log}. */
    static LlamaCppPeer start(Path script, Path modules, Path model, int threads, int context, Path log)
            throws IOException {
        Process p = run(new ProcessBuilder("node", script.toString(), "--modules", modules.toString(),
                "--model", model.toString(), "--threads", Integer.toString(threads),
                "--context", Integer.toString(context))
                .redirectError(log.toFile()));
        try {
            return new LlamaCppPeer(p, log);
        } catch (RuntimeException | IOException e) {
            p.destroyForcibly();
            throw e;
        }
    }

    /** A missing node or npm is the user's machine to fix: one line, as a bad argument is reported. */
    private static Process run(ProcessBuilder builder) {
        try {
            return builder.start();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot run " + builder.command().get(0) + " (" + e.getMessage()
                    + "): bench peers needs Node.js 20 or newer and npm on the PATH");
        }
    }

    Decode decode(String id, int[] prompt, int tokens) throws IOException {
        JsonObject request = new JsonObject();
        request.addProperty("id", id);
        request.add("prompt", new Gson().toJsonTree(prompt));
        request.addProperty("tokens", tokens);
        stdin.write(request + "\n");
        stdin.flush();
        JsonObject reply = next(DECODE_SECONDS);
        if (reply.has("error") || !id.equals(reply.get("id").getAsString())) {
            throw new IllegalStateException("llama.cpp peer answered " + reply + " to " + id + "; see " + log);
        }
        JsonArray ids = reply.getAsJsonArray("tokens");
        int[] out = new int[ids.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ids.get(i).getAsInt();
        }
        return new Decode(out, reply.get("ttft_ms").getAsDouble(), reply.get("tpot_ms").getAsDouble());
    }

    private JsonObject next(long seconds) {
        String line;
        try {
            line = lines.poll(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for the llama.cpp peer");
        }
        if (line == null) {
            throw new IllegalStateException("llama.cpp peer silent for " + seconds + " s; see " + log);
        }
        if (line.equals(END)) {
            lines.add(END);
            throw new IllegalStateException("llama.cpp peer exited; see " + log + ": " + tail(log));
        }
        return JsonParser.parseString(line).getAsJsonObject();
    }

    private static String tail(Path log) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join(" | ", new ArrayList<>(all.subList(Math.max(0, all.size() - 5), all.size())));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    /** The versions this run used, for the summary. */
    Map<String, Object> describe() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("build", ready.get("build").getAsString());
        d.put("release", ready.get("release").getAsString());
        d.put("system", ready.get("system").getAsString());
        d.put("node", ready.get("node").getAsString());
        d.put("threads", ready.get("threads").getAsInt());
        d.put("context", ready.get("context").getAsInt());
        return d;
    }

    /** Closing stdin ends the script's request loop; it frees the model and exits. */
    @Override
    public void close() throws IOException {
        try {
            stdin.close();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
