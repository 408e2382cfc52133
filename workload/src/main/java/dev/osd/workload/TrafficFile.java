package dev.osd.workload;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Traffic as JSON Lines, so users can replay their own logged requests through every benchmark. Each line is
 * {@code {"prompt": "…"}} or {@code {"messages": [{"role": "user", "content": "…"}, …]}}, with an optional
 * {@code "class"} and an optional reference {@code "answer"}. Chat messages are flattened with the embedded
 * models' chat template.
 */
public final class TrafficFile {

    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    private TrafficFile() {
    }

    public static List<Example> read(Path file) throws IOException {
        List<Example> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = r.readLine()) != null) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                out.add(parse(line, file, number));
            }
        }
        return out;
    }

    static Example parse(String line, Path file, int number) {
        String where = file + " line " + number + ": ";
        JsonObject o;
        try {
            o = JsonParser.parseString(line).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(where + "not a JSON object");
        }
        String queryClass = string(o, "class", where);
        String answer = string(o, "answer", where);
        String prompt = string(o, "prompt", where);
        if (prompt == null) {
            JsonElement messages = o.get("messages");
            if (messages == null || !messages.isJsonArray() || messages.getAsJsonArray().isEmpty()) {
                throw new IllegalArgumentException(where + "needs \"prompt\" or a non-empty \"messages\" array");
            }
            prompt = ChatTemplate.render(messages(messages.getAsJsonArray(), where));
        }
        return new Example(queryClass, prompt, answer == null ? "" : answer);
    }

    private static List<ChatTemplate.Message> messages(JsonArray array, String where) {
        List<ChatTemplate.Message> list = new ArrayList<>();
        for (JsonElement e : array) {
            if (!e.isJsonObject()) {
                throw new IllegalArgumentException(where + "each message must be an object with role and content");
            }
            String role = string(e.getAsJsonObject(), "role", where);
            String content = string(e.getAsJsonObject(), "content", where);
            if (role == null || content == null) {
                throw new IllegalArgumentException(where + "each message needs \"role\" and \"content\"");
            }
            list.add(new ChatTemplate.Message(role, content));
        }
        return list;
    }

    private static String string(JsonObject o, String field, String where) {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(where + "\"" + field + "\" must be a string");
        }
        return e.getAsString();
    }

    public static void write(Path file, List<Example> examples) throws IOException {
        if (file.toAbsolutePath().getParent() != null) {
            Files.createDirectories(file.toAbsolutePath().getParent());
        }
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (Example e : examples) {
                Map<String, String> line = new LinkedHashMap<>();
                line.put("prompt", e.prompt());
                if (e.queryClass() != null) {
                    line.put("class", e.queryClass());
                }
                if (!e.answer().isEmpty()) {
                    line.put("answer", e.answer());
                }
                w.write(GSON.toJson(line));
                w.newLine();
            }
        }
    }
}
