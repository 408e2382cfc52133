package dev.osd.http;

import com.google.gson.JsonNull;
import com.google.gson.JsonObject;

/**
 * An error the API answers with: an HTTP status and OpenAI's error object
 * {@code {"error": {"message", "type", "param", "code"}}}.
 */
final class ApiError extends RuntimeException {

    final int status;
    final String type;
    final String param;
    final String code;
    /** Seconds a client should wait before trying again (429, 503), or 0. */
    final int retryAfter;

    ApiError(int status, String type, String param, String code, String message, int retryAfter) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfter = retryAfter;
    }

    static ApiError invalid(String param, String message) {
        return new ApiError(400, "invalid_request_error", param, null, message, 0);
    }

    static ApiError notFound(String param, String message) {
        return new ApiError(404, "invalid_request_error", param, "not_found", message, 0);
    }

    static ApiError tooLarge(long limit) {
        return new ApiError(413, "invalid_request_error", null, "request_too_large",
                "request body exceeds the limit of " + limit + " bytes", 0);
    }

    static ApiError overloaded(String message) {
        return new ApiError(429, "rate_limit_error", null, "overloaded", message, 1);
    }

    static ApiError unauthorized(String message) {
        return new ApiError(401, "authentication_error", null, "invalid_api_key", message, 0);
    }

    static ApiError unavailable(String message) {
        return new ApiError(503, "server_error", null, "unavailable", message, 1);
    }

    static ApiError internal(String message) {
        return new ApiError(500, "server_error", null, null, message, 0);
    }

    JsonObject toJson() {
        JsonObject e = new JsonObject();
        e.addProperty("message", getMessage());
        e.addProperty("type", type);
        if (param == null) {
            e.add("param", JsonNull.INSTANCE);
        } else {
            e.addProperty("param", param);
        }
        if (code == null) {
            e.add("code", JsonNull.INSTANCE);
        } else {
            e.addProperty("code", code);
        }
        JsonObject o = new JsonObject();
        o.add("error", e);
        return o;
    }
}
