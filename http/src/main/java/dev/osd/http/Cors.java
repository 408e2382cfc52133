package dev.osd.http;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Cross-origin requests from browsers ({@code osd.serve.cors-allowed-origins}; empty: off). An allowed origin's
 * responses carry {@code Access-Control-Allow-Origin}; its preflight ({@code OPTIONS} with
 * {@code Access-Control-Request-Method}) is answered 204 with the methods and headers it may use. A preflight
 * from any other origin, or any preflight while CORS is off, is refused with 403 saying so, so that a browser
 * user sees why instead of a bare 405.
 */
final class Cors {

    static final String METHODS = "GET, POST, DELETE, OPTIONS";

    private final List<String> origins;

    /** @param origins allowed origins, exactly as browsers send them ({@code https://app.example:8443}), or "*" */
    Cors(List<String> origins) {
        this.origins = List.copyOf(origins);
    }

    boolean allows(String origin) {
        return origins.contains("*") || origins.contains(origin);
    }

    Route wrap(AllDirectives d, Supplier<Route> inner) {
        return d.optionalHeaderValueByName("Origin", (Optional<String> origin) -> {
            if (origin.isEmpty()) {
                return inner.get();
            }
            String o = origin.get();
            Route preflight = d.options(() -> d.optionalHeaderValueByName("Access-Control-Request-Method",
                    (Optional<String> method) -> method.isEmpty() ? d.reject() : d.optionalHeaderValueByName(
                            "Access-Control-Request-Headers", (Optional<String> headers) -> d.complete(
                                    preflight(o, headers.orElse(null))))));
            Route answered = allows(o) ? d.respondWithHeaders(headers(o), inner) : inner.get();
            return d.concat(preflight, answered);
        });
    }

    private HttpResponse preflight(String origin, String requestedHeaders) {
        if (!allows(origin)) {
            String why = origins.isEmpty() ? "cross-origin requests are off (osd.serve.cors-allowed-origins is empty)"
                    : "the origin " + origin + " is not in osd.serve.cors-allowed-origins";
            return Http.error(new ApiError(403, "invalid_request_error", null, "cors_origin_not_allowed", why, 0));
        }
        List<HttpHeader> h = new ArrayList<>(headers(origin));
        h.add(RawHeader.create("Access-Control-Allow-Methods", METHODS));
        h.add(RawHeader.create("Access-Control-Allow-Headers",
                requestedHeaders != null ? requestedHeaders : "Authorization, Content-Type"));
        h.add(RawHeader.create("Access-Control-Max-Age", "600"));
        return HttpResponse.create().withStatus(204).addHeaders(h);
    }

    private List<HttpHeader> headers(String origin) {
        return List.of(RawHeader.create("Access-Control-Allow-Origin", origins.contains("*") ? "*" : origin),
                RawHeader.create("Vary", "Origin"),
                // a 429's or 503's Retry-After is for the client's script too
                RawHeader.create("Access-Control-Expose-Headers", "Retry-After"));
    }
}
