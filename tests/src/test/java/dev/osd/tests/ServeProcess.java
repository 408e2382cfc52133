package dev.osd.tests;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code osd serve} in a JVM of its own, from this build's classes: its output is collected by a reader thread,
 * and {@link #start} returns once it prints where it serves (killed if it does not within 120 s).
 */
record ServeProcess(Process process, String url, int port, StringBuffer output, Thread reader) {

    private static final Pattern SERVES_AT = Pattern.compile("OSD serves '.*' at (http://\\S+)");

    /** Starts {@code osd serve --port 0} with a heap of {@code heap} (e.g. "2g") and {@code serveArgs} after it. */
    static ServeProcess start(String heap, List<String> serveArgs) throws Exception {
        Path root = EmbeddedModelsTest.repositoryRoot();
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx" + heap, "--add-modules", "jdk.incubator.vector", "-Dosd.home=" + root,
                "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-cp", System.getProperty("java.class.path"),
                "dev.osd.app.Osd", "serve", "--port", "0"));
        command.addAll(serveArgs);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        StringBuffer output = new StringBuffer();
        CompletableFuture<String> url = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    output.append(line).append('\n');
                    Matcher m = SERVES_AT.matcher(line);
                    if (m.find()) {
                        url.complete(m.group(1));
                    }
                }
            } catch (IOException e) {
                url.completeExceptionally(e);
            }
            url.completeExceptionally(new IllegalStateException("serve ended: " + output));
        });
        reader.setDaemon(true);
        reader.start();
        try {
            String u = url.get(120, TimeUnit.SECONDS);
            return new ServeProcess(p, u, Integer.parseInt(u.substring(u.lastIndexOf(':') + 1)), output, reader);
        } catch (Exception e) {
            p.destroyForcibly();
            throw e;
        }
    }
}
