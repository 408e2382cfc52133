package dev.osd.http;

import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.osd.actors.Problem;

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

    /**
     * The one place a {@link Problem} becomes an HTTP status and OpenAI's error object: the client's faults are
     * 4xx naming the field, capacity and availability are 429 and 503 with Retry-After, the server's own 5xx.
     */
    static ApiError of(Problem p) {
        if (p instanceof Problem.InvalidInput i) {
            return new ApiError(400, "invalid_request_error", i.param(), null, i.message(), 0);
        }
        if (p instanceof Problem.ContextExhausted c) {
            return new ApiError(400, "invalid_request_error", c.param(), "context_length_exceeded", c.message(), 0);
        }
        if (p instanceof Problem.Overloaded) {
            return new ApiError(429, "rate_limit_error", null, "overloaded", "the server is at capacity ("
                    + p.message() + "); retry shortly", 1);
        }
        if (p instanceof Problem.Unavailable) {
            return new ApiError(503, "server_error", null, "unavailable", p.message(), 1);
        }
        if (p instanceof Problem.DeadlinePassed) {
            return new ApiError(504, "server_error", null, "deadline_exceeded", p.message(), 0);
        }
        if (p instanceof Problem.Cancelled) {
            // nginx's "client closed request": only a client that is gone could have asked for it
            return new ApiError(499, "invalid_request_error", null, "cancelled", p.message(), 0);
        }
        return new ApiError(500, "server_error", null, null, "generation failed: " + p.message(), 0);
    }

    static ApiError invalid(String param, String message) {
        return of(new Problem.InvalidInput(param, message));
    }

    /** A field this server does not support (yet): refused, never silently ignored. */
    static ApiError unsupported(String param, String message) {
        return new ApiError(400, "invalid_request_error", param, "unsupported_parameter", message, 0);
    }

    static ApiError notFound(String param, String message) {
        return new ApiError(404, "invalid_request_error", param, "not_found", message, 0);
    }

    /** A model the server does not serve: 404, as OpenAI and vLLM answer (clients raise NotFoundError). */
    static ApiError modelNotFound(String model, String served) {
        return new ApiError(404, "invalid_request_error", "model", "model_not_found", "the model '" + model
                + "' does not exist; this server serves '" + served + "'", 0);
    }

    static ApiError tooLarge(long limit) {
        return new ApiError(413, "invalid_request_error", null, "request_too_large",
                "request body exceeds the limit of " + limit + " bytes", 0);
    }

    static ApiError unauthorized(String message) {
        return new ApiError(401, "authentication_error", null, "invalid_api_key", message, 0);
    }

    /** The client did not send its whole body in time. */
    static ApiError bodyTimeout(String message) {
        return new ApiError(408, "invalid_request_error", null, "request_timeout", message, 0);
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
