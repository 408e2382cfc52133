package dev.osd.http;

import com.google.gson.JsonElement;
import java.util.List;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/** Responses the routes answer with: JSON, API errors, event streams. */
final class Http {

    private Http() {
    }

    // nginx's "client closed request", for a request that ended because its client went away
    private static final StatusCode CLIENT_CLOSED = StatusCodes.custom(499, "Client Closed Request",
            "the client closed the request", false, true);

    static HttpResponse json(int status, JsonElement body) {
        return HttpResponse.create().withStatus(status == 499 ? CLIENT_CLOSED : StatusCodes.get(status))
                .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body.toString()));
    }

    static HttpResponse error(ApiError e) {
        HttpResponse r = json(e.status, e.toJson());
        if (e.retryAfter > 0) {
            r = r.addHeader(RawHeader.create("Retry-After", Integer.toString(e.retryAfter)));
        }
        return r;
    }

    /** A Server-Sent Events response over {@code events} (each element one "data: ...\n\n" event). */
    static HttpResponse eventStream(Source<ByteString, NotUsed> events) {
        List<HttpHeader> headers = List.of(RawHeader.create("Cache-Control", "no-cache"),
                RawHeader.create("X-Accel-Buffering", "no"));
        return HttpResponse.create().withStatus(200).addHeaders(headers)
                .withEntity(HttpEntities.createChunked(MediaTypes.TEXT_EVENT_STREAM.toContentType(), events));
    }
}
