package dev.osd.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.ProblemException;
import dev.osd.actors.ServingSystem;
import dev.osd.engine.TextTokenizer;
import dev.osd.engine.TokenizerConfig;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.stream.Materializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP face of a serving system (Pekko HTTP on the system's own actor system): the OpenAI API, the
 * administrative endpoints, {@code /metrics}, health, and the dashboard.
 */
public final class HttpServer extends AllDirectives implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(HttpServer.class);

    /**
     * @param model the id clients give as {@code model} (the served target directory's name, or configured)
     * @param apiKey when set, the API asks for {@code Authorization: Bearer <apiKey>}
     * @param adminKey when set, the administrative endpoints ask for it (else they are open like the API)
     * @param maxBodyBytes larger request bodies are refused with 413
     * @param maxDraftTokens the proposal length bound for requests that do not fix it
     * @param maxGenerationsPerRequest most generations (prompts × n) one request may start; past it, 400
     * @param bodyTimeout a body not received whole within this long is refused with 408
     * @param corsAllowedOrigins browser origins allowed to call the API ({@code *}: any); empty: CORS off
     * @param vllmNames /metrics also shows vLLM's families under vLLM's exact names ({@code vllm:...})
     */
    public record Settings(String host, int port, String model, long maxBodyBytes, String apiKey, String adminKey,
            int maxDraftTokens, int maxGenerationsPerRequest, Duration bodyTimeout, List<String> corsAllowedOrigins,
            boolean vllmNames, Duration requestTimeout) {
        public Settings {
            corsAllowedOrigins = List.copyOf(corsAllowedOrigins);
        }

        /** The built-in defaults (the served ones come from osd.serve: {@code ServeConfig}). */
        public static Settings defaults() {
            return builder().build();
        }

        /** A builder holding {@link #defaults}; every field is optional. */
        public static Builder builder() {
            return new Builder();
        }

        /** Settings in DJL's builder habit: the defaults, with {@code opt} for what differs. */
        public static final class Builder {
            private String host = "127.0.0.1";
            private int port = 8080;
            private String model = "osd-embedded";
            private long maxBodyBytes = 1 << 20;
            private String apiKey;
            private String adminKey;
            private int maxDraftTokens = 5;
            private int maxGenerationsPerRequest = 128;
            private Duration bodyTimeout = Duration.ofSeconds(10);
            private List<String> corsAllowedOrigins = List.of();
            private boolean vllmNames;
            private Duration requestTimeout = Duration.ofMinutes(10);

            private Builder() {
            }

            public Builder optHost(String host) {
                this.host = host;
                return this;
            }

            public Builder optPort(int port) {
                this.port = port;
                return this;
            }

            public Builder optModel(String model) {
                this.model = model;
                return this;
            }

            public Builder optMaxBodyBytes(long maxBodyBytes) {
                this.maxBodyBytes = maxBodyBytes;
                return this;
            }

            public Builder optApiKey(String apiKey) {
                this.apiKey = apiKey;
                return this;
            }

            public Builder optAdminKey(String adminKey) {
                this.adminKey = adminKey;
                return this;
            }

            public Builder optMaxDraftTokens(int maxDraftTokens) {
                this.maxDraftTokens = maxDraftTokens;
                return this;
            }

            public Builder optMaxGenerationsPerRequest(int maxGenerationsPerRequest) {
                this.maxGenerationsPerRequest = maxGenerationsPerRequest;
                return this;
            }

            public Builder optBodyTimeout(Duration bodyTimeout) {
                this.bodyTimeout = bodyTimeout;
                return this;
            }

            public Builder optCorsAllowedOrigins(List<String> corsAllowedOrigins) {
                this.corsAllowedOrigins = corsAllowedOrigins;
                return this;
            }

            public Builder optVllmNames(boolean vllmNames) {
                this.vllmNames = vllmNames;
                return this;
            }

            public Builder optRequestTimeout(Duration requestTimeout) {
                this.requestTimeout = requestTimeout;
                return this;
            }

            public Settings build() {
                return new Settings(host, port, model, maxBodyBytes, apiKey, adminKey, maxDraftTokens,
                        maxGenerationsPerRequest, bodyTimeout, corsAllowedOrigins, vllmNames, requestTimeout);
            }
        }
    }

    private final ServingSystem system;
    private final Settings settings;
    private final OpenAiApi api;
    private final DraftsAdmin drafts;
    private final Cors cors;
    private final DashboardHistory history;
    private final Materializer materializer;
    private final ServerBinding binding;
    private final Cancellable sampling;

    private HttpServer(ServingSystem system, TextTokenizer tokenizer, TokenizerConfig tokenizerConfig,
            Settings settings) {
        this.system = system;
        this.settings = settings;
        this.materializer = Materializer.matFromSystem(system.actorSystem());
        system.metrics().serveAs(settings.model());
        this.api = new OpenAiApi(system, new PromptEncoder(tokenizer, system.targetConfig(), tokenizerConfig), settings.model(),
                settings.maxDraftTokens(),
                settings.maxGenerationsPerRequest(), settings.requestTimeout(), materializer);
        this.cors = new Cors(settings.corsAllowedOrigins());
        this.drafts = new DraftsAdmin(system);
        this.history = new DashboardHistory(system, 600);
        this.sampling = system.actorSystem().scheduler().scheduleAtFixedRate(Duration.ofSeconds(1),
                Duration.ofSeconds(1), history::sample, system.actorSystem().executionContext());
        // Pekko's Http shares its simple name with this package's responses (Http)
        // a connection with nothing on it for pekko.http.server.idle-timeout (60 s by default) is closed, also while
        // a non-streamed completion is still being generated: idle may not end a request its deadline allows
        Config config = system.actorSystem().settings().config();
        long idle = Math.max(config.getDuration("pekko.http.server.idle-timeout").toMillis(),
                backstop().plusSeconds(30).toMillis());
        ServerSettings server = ServerSettings.create(ConfigFactory.parseString(
                "pekko.http.server.idle-timeout = " + idle + "ms").withFallback(config));
        this.binding = org.apache.pekko.http.javadsl.Http.get(system.actorSystem())
                .newServerAt(settings.host(), settings.port()).withSettings(server).bind(routes())
                .toCompletableFuture().join();
    }

    /** Binds the routes ({@code port} 0: a free port) and starts sampling for the dashboard. */
    public static HttpServer start(ServingSystem system, TextTokenizer tokenizer, Settings settings) {
        return new HttpServer(system, tokenizer, null, settings);
    }

    /**
     * As {@link #start(ServingSystem, TextTokenizer, Settings)}, with the target checkpoint's
     * {@code tokenizer_config.json}: its chat template renders chats, its BOS / EOS settings shape completions.
     */
    public static HttpServer start(ServingSystem system, TextTokenizer tokenizer, TokenizerConfig tokenizerConfig,
            Settings settings) {
        return new HttpServer(system, tokenizer, tokenizerConfig, settings);
    }

    /** The port it listens on. */
    public int port() {
        return binding.localAddress().getPort();
    }

    public String url() {
        return "http://" + settings.host() + ":" + port();
    }

    Route routes() {
        // CORS outermost: errors and rejections carry its headers too, or a browser could not read them
        return cors.wrap(this, () -> handleExceptions(exceptions(), () -> handleRejections(rejections(),
                () -> withRequestTimeout(backstop(), this::timedOut, () -> concat(
                        pathPrefix("v1", () -> concat(openAiRoutes(), adminRoutes(),
                                path("dashboard", () -> get(() -> complete(json(200, history.toJson())))))),
                        vllmRoutes(),
                        operationsRoutes())))));
    }

    /**
     * Pekko's request timeout, past the requests' own deadline: a request ends itself at its deadline (its caches
     * freed, 504 with what it says), and this answers only one that did not (the OpenAI error object, not
     * Pekko's plain-text 503).
     */
    private Duration backstop() {
        return settings.requestTimeout().plusSeconds(5);
    }

    private HttpResponse timedOut(HttpRequest request) {
        return Http.error(new ApiError(504, "server_error", null, "deadline_exceeded",
                "the request did not finish within osd.serve.request-timeout (" + settings.requestTimeout().toSeconds()
                        + " s)", 0));
    }

    /** vLLM's own endpoints beside the OpenAI API: health, ping, version, tokenize, detokenize. */
    private Route vllmRoutes() {
        // vLLM's /health: an empty 200 when ready; the reason in the body when not
        Supplier<Route> health = () -> completeWithFuture(ready().thenApply(r -> r.status().intValue() == 200
                ? HttpResponse.create().withStatus(200) : r));
        return concat(
                path("health", () -> get(health)),
                // SageMaker's probe: GET or POST
                path("ping", () -> concat(get(health), post(health))),
                path("version", () -> get(() -> complete(json(200, version())))),
                path("tokenize", () -> post(() -> withApiKey(() -> jsonBody(b -> CompletableFuture.completedFuture(
                        json(200, api.tokenize(b))))))),
                path("detokenize", () -> post(() -> withApiKey(() -> jsonBody(b ->
                        CompletableFuture.completedFuture(json(200, api.detokenize(b))))))));
    }

    /** GET /version: the server's version, as vLLM answers it. */
    static JsonObject version() {
        JsonObject o = new JsonObject();
        o.addProperty("version", Version.OF);
        return o;
    }

    private Route openAiRoutes() {
        return concat(
                path("completions", () -> post(() -> withApiKey(() -> jsonBody(b -> api.complete(b, false))))),
                path(PathMatchers.segment("chat").slash("completions"),
                        () -> post(() -> withApiKey(() -> jsonBody(b -> api.complete(b, true))))),
                path("models", () -> get(() -> withApiKey(() -> complete(json(200, api.models()))))),
                // model ids may hold a slash (org/name): the rest of the path is the id
                path(PathMatchers.segment("models").slash(PathMatchers.remaining()),
                        id -> get(() -> withApiKey(() -> complete(json(200, api.model(id)))))));
    }

    private Route adminRoutes() {
        Route list = get(() -> complete(json(200, drafts.list())));
        Route add = post(() -> jsonBody(b -> drafts.add(b).thenApply(d -> json(201, d))));
        return concat(
                path("drafts", () -> withAdminKey(() -> concat(list, add))),
                path(PathMatchers.segment("drafts").slash(PathMatchers.segment()), name -> withAdminKey(() -> concat(
                        get(() -> complete(json(200, draft(name)))),
                        delete(() -> answer(() -> drafts.retire(name)))))),
                path(PathMatchers.segment("drafts").slash(PathMatchers.segment()).slash(PathMatchers.segment()),
                        (name, action) -> post(() -> withAdminKey(
                                () -> answer(() -> drafts.training(name, paused(action)))))),
                path(PathMatchers.segment("training").slash(PathMatchers.segment()), action -> post(
                        () -> withAdminKey(() -> answer(() -> drafts.training(null, paused(action)))))));
    }

    private Route operationsRoutes() {
        ContentType js = MediaTypes.APPLICATION_JAVASCRIPT.toContentType(HttpCharsets.UTF_8);
        return concat(
                path("metrics", () -> get(this::metrics)),
                path("cluster", () -> get(() -> complete(json(200, cluster())))),
                path(PathMatchers.segment("health").slash("live"), () -> get(() -> complete(live()))),
                path(PathMatchers.segment("health").slash("ready"), () -> get(() -> completeWithFuture(ready()))),
                pathSingleSlash(() -> get(() -> complete(resource("dashboard.html", ContentTypes.TEXT_HTML_UTF8)))),
                path("dashboard.js", () -> get(() -> complete(resource("dashboard.js", js)))));
    }

    private static HttpResponse json(int status, JsonElement body) {
        return Http.json(status, body);
    }

    /** GET /cluster: members with roles and status, and which node runs which target, drafts and trainers. */
    private JsonObject cluster() {
        ServingSystem.ClusterView view = system.clusterView();
        JsonObject o = new JsonObject();
        o.addProperty("self", view.self());
        JsonArray members = new JsonArray();
        for (ServingSystem.Member m : view.members()) {
            JsonObject member = new JsonObject();
            member.addProperty("address", m.address());
            JsonArray roles = new JsonArray();
            m.roles().forEach(roles::add);
            member.add("roles", roles);
            member.addProperty("status", m.status());
            members.add(member);
        }
        o.add("members", members);
        JsonArray unreachable = new JsonArray();
        view.unreachable().forEach(unreachable::add);
        o.add("unreachable", unreachable);
        JsonObject services = new JsonObject();
        view.services().forEach((service, nodes) -> {
            JsonArray a = new JsonArray();
            nodes.forEach(a::add);
            services.add(service, a);
        });
        o.add("services", services);
        return o;
    }

    private JsonObject draft(String name) {
        if (!system.draftNames().contains(name)) {
            throw ApiError.notFound("name", "unknown draft '" + name + "'");
        }
        return drafts.describe(name, 0);
    }

    private static boolean paused(String action) {
        return switch (action) {
            case "pause" -> true;
            case "resume" -> false;
            default -> throw ApiError.notFound(null, "unknown action '" + action + "' (pause or resume)");
        };
    }

    /**
     * Reads the body as a JSON object and hands it on. The body's own faults are the client's: past the size limit
     * 413, not whole within the body timeout 408, truncated or with a bad chunk 400, each logged as one line.
     */
    private Route jsonBody(Function<JsonObject, CompletionStage<HttpResponse>> handler) {
        return extractRequestEntity(entity -> {
            OptionalLong length = entity.getContentLengthOption();
            if (length.isPresent() && length.getAsLong() > settings.maxBodyBytes()) {
                return complete(Http.error(ApiError.tooLarge(settings.maxBodyBytes())));
            }
            CompletionStage<HttpResponse> response = entity.withSizeLimit(settings.maxBodyBytes())
                    .toStrict(settings.bodyTimeout().toMillis(), materializer)
                    .handle((strict, fault) -> fault != null ? CompletableFuture.<HttpResponse>failedFuture(
                            bodyFault(fault)) : handler.apply(StrictJson.object(strict.getData().utf8String())))
                    .thenCompose(Function.identity())
                    .exceptionally(t -> Http.error(asApiError(t)));
            return completeWithFuture(response);
        });
    }

    /** A body that could not be read: the client's fault, answered with a 4xx and logged as one line. */
    static ApiError bodyFault(Throwable t) {
        Throwable cause = unwrap(t);
        ApiError e;
        if (cause instanceof EntityStreamSizeException size) {
            e = ApiError.tooLarge(size.limit());
        } else if (cause instanceof TimeoutException) {
            e = ApiError.bodyTimeout("the request body did not arrive whole in time: " + cause.getMessage());
        } else {
            // a truncated body, a bad chunk, a connection that broke mid-body
            e = ApiError.invalid(null, "the request body could not be read: " + cause.getMessage());
        }
        LOG.info("client body fault ({}): {}", e.status, cause.toString());
        return e;
    }

    private Route answer(Supplier<CompletionStage<JsonObject>> work) {
        CompletionStage<HttpResponse> r;
        try {
            r = work.get().thenApply(o -> json(200, o));
        } catch (RuntimeException e) {
            r = CompletableFuture.failedFuture(e);
        }
        return completeWithFuture(r.exceptionally(t -> Http.error(asApiError(t))));
    }

    /** What a failure the routes did not expect answers: problems as they map, anything else a logged 500. */
    static ApiError asApiError(Throwable t) {
        Throwable cause = unwrap(t);
        if (cause instanceof ApiError e) {
            return e;
        }
        if (cause instanceof ProblemException p) {
            return ApiError.of(p.problem());
        }
        LOG.error("request failed", cause);
        return ApiError.internal(cause.getClass().getSimpleName() + ": " + cause.getMessage());
    }

    private static Throwable unwrap(Throwable t) {
        Throwable cause = t;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    private Route withApiKey(Supplier<Route> inner) {
        return withKey(settings.apiKey(), inner);
    }

    private Route withAdminKey(Supplier<Route> inner) {
        return withKey(settings.adminKey() != null ? settings.adminKey() : settings.apiKey(), inner);
    }

    private Route withKey(String key, Supplier<Route> inner) {
        if (key == null) {
            return inner.get();
        }
        return optionalHeaderValueByName("Authorization", (Optional<String> h) -> {
            byte[] expected = ("Bearer " + key).getBytes(StandardCharsets.UTF_8);
            if (h.isPresent() && MessageDigest.isEqual(expected, h.get().getBytes(StandardCharsets.UTF_8))) {
                return inner.get();
            }
            return complete(Http.error(ApiError.unauthorized(h.isPresent()
                    ? "the API key is not valid" : "this endpoint needs an API key: Authorization: Bearer <key>")));
        });
    }

    private Route metrics() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(out, system.metrics().scrape(settings.vllmNames()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // the text format 0.0.4 (what PrometheusTextFormatWriter.CONTENT_TYPE names)
        return complete(HttpResponse.create().withEntity(HttpEntities.create(
                MediaTypes.TEXT_PLAIN.toContentType(HttpCharsets.UTF_8), out.toByteArray())));
    }

    /** Live: the process answers. */
    private static HttpResponse live() {
        JsonObject o = new JsonObject();
        o.addProperty("status", "live");
        return json(200, o);
    }

    /**
     * Ready: this node can answer requests (a gateway that reaches a target, not draining). Drafts without a
     * replica degrade speculation, not service: they are listed under {@code degraded}, and the node stays ready.
     */
    private CompletionStage<HttpResponse> ready() {
        if (system.draining()) {
            JsonObject o = new JsonObject();
            o.addProperty("status", "draining");
            o.addProperty("reason", "the server is shutting down; requests in flight finish");
            return CompletableFuture.completedFuture(json(503, o));
        }
        return system.readinessAsync().handle((r, failure) -> {
            JsonObject o = new JsonObject();
            if (failure != null) {
                o.addProperty("status", "not ready");
                o.addProperty("reason", "the gateway does not answer: " + unwrap(failure).getMessage());
                return json(503, o);
            }
            boolean ready = r.targets() > 0;
            JsonArray degraded = new JsonArray();
            if (!ready) {
                degraded.add("no target is reachable: requests cannot be answered");
            }
            r.draftReplicas().forEach((draft, n) -> {
                if (n == 0) {
                    degraded.add("draft '" + draft + "' has no reachable replica: its requests run target-only");
                }
            });
            o.addProperty("status", ready ? "ready" : "not ready");
            o.addProperty("targets", r.targets());
            JsonObject d = new JsonObject();
            r.draftReplicas().forEach(d::addProperty);
            o.add("draft_replicas", d);
            o.add("degraded", degraded);
            return json(ready ? 200 : 503, o);
        });
    }

    private static HttpResponse resource(String name, ContentType type) {
        try (InputStream in = HttpServer.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name);
            }
            return HttpResponse.create().withEntity(HttpEntities.create(type, in.readAllBytes()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private ExceptionHandler exceptions() {
        return ExceptionHandler.newBuilder()
                .match(ApiError.class, e -> complete(Http.error(e)))
                .match(RuntimeException.class, e -> complete(Http.error(asApiError(e))))
                .build();
    }

    /** Pekko's own refusals (no such route, wrong method, ...) in OpenAI's error shape. */
    private RejectionHandler rejections() {
        return RejectionHandler.defaultHandler().mapRejectionResponse(response -> {
            HttpEntity entity = response.entity();
            String message = entity instanceof HttpEntity.Strict s ? s.getData().utf8String()
                    : response.status().reason();
            int status = response.status().intValue();
            return Http.error(new ApiError(status, status == 404 ? "invalid_request_error"
                    : status >= 500 ? "server_error" : "invalid_request_error", null, null, message, 0))
                    .withHeaders(response.getHeaders());
        });
    }

    @Override
    public void close() {
        sampling.cancel();
        // the last events of open streams first (after a drain, their generations have ended): a connection
        // closed under a slow reader would reset and lose what it had not read yet
        try {
            api.streamsEnded().get(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.info("closing with event streams still open: {}", e.toString());
        }
        binding.terminate(Duration.ofSeconds(5)).toCompletableFuture().join();
    }
}
