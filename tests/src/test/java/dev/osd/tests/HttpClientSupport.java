package dev.osd.tests;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A plain HTTP client for the end-to-end tests: JSON requests, Server-Sent Events, /metrics scrapes. */
final class HttpClientSupport {

    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    record Reply(int status, String body, HttpResponse<String> raw) {
        JsonObject json() {
            return JsonParser.parseString(body).getAsJsonObject();
        }

        /** The OpenAI error object's fields. */
        JsonObject error() {
            return json().getAsJsonObject("error");
        }
    }

    private final String url;
    private final String key;

    HttpClientSupport(String url, String key) {
        this.url = url;
        this.key = key;
    }

    HttpClientSupport(String url) {
        this(url, null);
    }

    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(120));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        return b;
    }

    Reply post(String path, String body) {
        return send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    Reply post(String path, JsonObject body) {
        return post(path, body.toString());
    }

    Reply get(String path) {
        return send(request(path).GET().build());
    }

    Reply delete(String path) {
        return send(request(path).DELETE().build());
    }

    static Reply send(HttpRequest r) {
        try {
            HttpResponse<String> response = CLIENT.send(r, HttpResponse.BodyHandlers.ofString());
            return new Reply(response.statusCode(), response.body(), response);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A streamed response: its events' JSON (in order), whether it ended in [DONE], and its content type. */
    record Stream(int status, String contentType, List<JsonObject> events, boolean done) {
    }

    Stream stream(String path, JsonObject body) {
        HttpRequest r = request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
        try {
            HttpResponse<java.io.InputStream> response = CLIENT.send(r, HttpResponse.BodyHandlers.ofInputStream());
            List<JsonObject> events = new ArrayList<>();
            boolean done = false;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(),
                    StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    if (!line.startsWith("data: ")) {
                        continue;
                    }
                    String data = line.substring(6);
                    if (data.equals("[DONE]")) {
                        done = true;
                    } else {
                        events.add(JsonParser.parseString(data).getAsJsonObject());
                    }
                }
            }
            return new Stream(response.statusCode(), response.headers().firstValue("Content-Type").orElse(""), events,
                    done);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The samples of /metrics whose name starts with {@code prefix}: "name{labels}" → value. */
    Map<String, Double> metrics(String prefix) {
        Map<String, Double> m = new HashMap<>();
        for (String line : get("/metrics").body().split("\n")) {
            if (line.startsWith(prefix)) {
                int space = line.lastIndexOf(' ');
                m.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
            }
        }
        return m;
    }
}
