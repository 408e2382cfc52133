package dev.osd.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;

/**
 * Request bodies as RFC 8259 JSON and nothing looser: Gson's reader in its strict mode (no comments, single
 * quotes, unquoted names or words, {@code NaN}, {@code ;} or {@code =} separators), one value and nothing after
 * it, no name twice in an object (which value would count?), bounded nesting and number length, so that an
 * ambiguous or hostile body is refused with a 400 instead of being guessed at.
 */
final class StrictJson {

    /** Deeper bodies are refused: no request object nests past a few levels. */
    static final int MAX_DEPTH = 32;
    /** Longer number literals are refused (a megabyte of digits would cost quadratic time to convert). */
    static final int MAX_NUMBER_CHARS = 64;

    private StrictJson() {
    }

    /** The body as a JSON object, or an {@link ApiError} 400 saying where it is not one. */
    static JsonObject object(String text) {
        JsonReader reader = new JsonReader(new StringReader(text));
        reader.setStrictness(Strictness.STRICT);
        JsonElement e;
        try {
            if (reader.peek() != JsonToken.BEGIN_OBJECT) {
                throw ApiError.invalid(null, "the body must be a JSON object");
            }
            e = read(reader, 0);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw ApiError.invalid(null, "the body is not valid JSON: more follows the object at "
                        + reader.getPath());
            }
        } catch (IOException | IllegalStateException | NumberFormatException ex) {
            throw ApiError.invalid(null, "the body is not valid JSON (RFC 8259): " + firstLine(ex.getMessage()));
        }
        return e.getAsJsonObject();
    }

    private static JsonElement read(JsonReader r, int depth) throws IOException {
        JsonToken token = r.peek();
        switch (token) {
            case BEGIN_OBJECT -> {
                nest(r, depth);
                JsonObject o = new JsonObject();
                r.beginObject();
                while (r.hasNext()) {
                    String name = r.nextName();
                    if (o.has(name)) {
                        throw ApiError.invalid(name, "the body names '" + name + "' twice at " + r.getPath());
                    }
                    o.add(name, read(r, depth + 1));
                }
                r.endObject();
                return o;
            }
            case BEGIN_ARRAY -> {
                nest(r, depth);
                JsonArray a = new JsonArray();
                r.beginArray();
                while (r.hasNext()) {
                    a.add(read(r, depth + 1));
                }
                r.endArray();
                return a;
            }
            case STRING -> {
                return new JsonPrimitive(r.nextString());
            }
            case NUMBER -> {
                String literal = r.nextString();
                if (literal.length() > MAX_NUMBER_CHARS) {
                    throw ApiError.invalid(null, "a number of " + literal.length() + " characters at " + r.getPath()
                            + " (at most " + MAX_NUMBER_CHARS + ")");
                }
                return new JsonPrimitive(new BigDecimal(literal));
            }
            case BOOLEAN -> {
                return new JsonPrimitive(r.nextBoolean());
            }
            case NULL -> {
                r.nextNull();
                return JsonNull.INSTANCE;
            }
            default -> throw new IllegalStateException("unexpected " + token + " at " + r.getPath());
        }
    }

    private static void nest(JsonReader r, int depth) {
        if (depth >= MAX_DEPTH) {
            throw ApiError.invalid(null, "the body nests deeper than " + MAX_DEPTH + " levels at " + r.getPath());
        }
    }

    /** Gson's message without its pointer to the troubleshooting guide. */
    private static String firstLine(String message) {
        if (message == null) {
            return "malformed";
        }
        int see = message.indexOf("\nSee ");
        return see < 0 ? message : message.substring(0, see);
    }
}
