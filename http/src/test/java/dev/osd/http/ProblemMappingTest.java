package dev.osd.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.osd.actors.Problem;
import dev.osd.actors.ProblemException;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.junit.jupiter.api.Test;

/** Each kind of problem answers one status and OpenAI's error object, wherever it was raised. */
class ProblemMappingTest {

    record Expected(Problem problem, int status, String type, String param, String code, String retryAfter) {
    }

    @Test
    void everyKindOfProblemHasItsStatusTypeCodeAndField() {
        List<Expected> cases = List.of(
                new Expected(new Problem.InvalidInput("n", "n too large"), 400, "invalid_request_error", "n", null,
                        null),
                new Expected(new Problem.ContextExhausted("max_tokens", "too long"), 400, "invalid_request_error",
                        "max_tokens", "context_length_exceeded", null),
                new Expected(new Problem.Overloaded("all 2 slots in use"), 429, "rate_limit_error", null, "overloaded",
                        "1"),
                new Expected(new Problem.Unavailable("draining"), 503, "server_error", null, "unavailable", "1"),
                new Expected(new Problem.DeadlinePassed("5 s"), 504, "server_error", null, "deadline_exceeded", null),
                new Expected(new Problem.Cancelled("gone"), 499, "invalid_request_error", null, "cancelled", null),
                new Expected(new Problem.Internal("boom"), 500, "server_error", null, null, null));
        for (Expected c : cases) {
            // raised as a result's problem, or as the failure of a future: the same answer
            for (ApiError e : List.of(ApiError.of(c.problem()),
                    HttpServer.asApiError(new CompletionException(new ProblemException(c.problem()))))) {
                HttpResponse r = Http.error(e);
                String what = c.problem().toString();
                assertEquals(c.status(), r.status().intValue(), what);
                JsonObject error = e.toJson().getAsJsonObject("error");
                assertEquals(c.type(), error.get("type").getAsString(), what);
                assertTrue(error.get("message").getAsString().contains(c.problem().message()), what);
                assertEquals(c.param(), error.get("param").isJsonNull() ? null : error.get("param").getAsString(),
                        what);
                assertEquals(c.code(), error.get("code").isJsonNull() ? null : error.get("code").getAsString(), what);
                assertEquals(c.retryAfter(), r.getHeader("Retry-After").map(h -> h.value()).orElse(null), what);
            }
        }
    }

    @Test
    void anUnexpectedExceptionIsTheServersFaultNotTheClients() {
        // an IllegalArgumentException deep inside is a bug of ours, not a 400
        ApiError e = HttpServer.asApiError(new CompletionException(new IllegalArgumentException("bug")));
        assertEquals(500, e.status);
        assertEquals("server_error", e.type);
    }
}
