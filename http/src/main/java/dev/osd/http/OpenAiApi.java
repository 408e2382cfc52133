package dev.osd.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.osd.actors.Problem;
import dev.osd.actors.RequestActor;
import dev.osd.actors.ServingSystem;
import dev.osd.engine.GenerationRequest;
import dev.osd.engine.GenerationResult;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.SamplingParams;
import dev.osd.engine.SpeculationStats;
import dev.osd.engine.TextTokenizer;
import dev.osd.engine.TokenLogprob;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * The OpenAI-compatible completions and chat completions: checks a request, tokenizes its prompts, submits
 * one generation per prompt and choice to the serving system, and answers with one JSON object or a stream of
 * Server-Sent Events, each response carrying its speculation figures under {@code metrics}.
 */
final class OpenAiApi {

    private final ServingSystem system;
    // every generation of a completion ends with what it has after this long (osd.serve.request-timeout)
    private final Duration requestTimeout;
    private final TextTokenizer tokenizer;
    private final PromptEncoder prompts;
    private final String model;
    private final Materializer materializer;
    private final int maxDraftTokens;
    private final int maxGenerations;
    private final long created = System.currentTimeMillis() / 1000;
    // event streams whose last event has not yet gone to their connection
    private final Set<CompletableFuture<?>> openStreams = ConcurrentHashMap.newKeySet();

    /**
     * @param maxDraftTokens the proposal length bound when a request does not fix k (the draft's adaptive k applies)
     * @param maxGenerations most generations (prompts × n) one request may start
     */
    OpenAiApi(ServingSystem system, PromptEncoder prompts, String model, int maxDraftTokens, int maxGenerations,
            Duration requestTimeout, Materializer materializer) {
        this.system = system;
        this.requestTimeout = requestTimeout;
        this.tokenizer = prompts.tokenizer();
        this.prompts = prompts;
        this.model = model;
        this.maxDraftTokens = maxDraftTokens;
        this.maxGenerations = maxGenerations;
        this.materializer = materializer;
        // a pre-materialized event stream that nobody subscribes to within the materializer's subscription
        // timeout is cancelled: the response must go out well before it, however long the first token takes
        this.openStreamBy = Duration.ofMillis(system.actorSystem().settings().config()
                .getDuration("pekko.stream.materializer.subscription-timeout.timeout").toMillis() / 2);
    }

    private final Duration openStreamBy;

    String model() {
        return model;
    }

    /** Completes when every event stream open now has handed its last event to its connection. */
    CompletableFuture<Void> streamsEnded() {
        return CompletableFuture.allOf(openStreams.toArray(CompletableFuture[]::new));
    }

    JsonObject models() {
        JsonArray data = new JsonArray();
        data.add(modelObject());
        JsonObject list = new JsonObject();
        list.addProperty("object", "list");
        list.add("data", data);
        return list;
    }

    /** GET /v1/models/{id}: the model, or 404 {@code model_not_found}. */
    JsonObject model(String id) {
        checkModel(id);
        return modelObject();
    }

    private JsonObject modelObject() {
        JsonObject m = new JsonObject();
        m.addProperty("id", model);
        m.addProperty("object", "model");
        m.addProperty("created", created);
        m.addProperty("owned_by", "osd");
        m.addProperty("root", model);
        m.add("parent", JsonNull.INSTANCE);
        m.addProperty("max_model_len", system.targetConfig().maxPositionEmbeddings());
        return m;
    }

    /** A request that names a model this server does not serve is a 404 (no model named: the served one). */
    private void checkModel(String requested) {
        if (requested != null && !requested.equals(model)) {
            throw ApiError.modelNotFound(requested, model);
        }
    }

    private static final Set<String> TOKENIZE_FIELDS = Set.of("model", "prompt", "messages", "add_special_tokens",
            "add_generation_prompt", "return_token_strs");

    /**
     * vLLM's POST /tokenize: {@code prompt} (text) or {@code messages} (a chat, rendered as a chat completion
     * renders it) → {@code count}, {@code max_model_len}, {@code tokens}, and with {@code return_token_strs}
     * each token's text.
     */
    JsonObject tokenize(JsonObject body) {
        for (String field : body.keySet()) {
            if (!TOKENIZE_FIELDS.contains(field)) {
                throw ApiError.unsupported(field, "'" + field + "' is not supported by /tokenize (it takes "
                        + new TreeSet<>(TOKENIZE_FIELDS) + ")");
            }
        }
        checkModel(CompletionParams.optString(body, "model"));
        boolean chat = body.has("messages");
        if (chat == body.has("prompt")) {
            throw ApiError.invalid("prompt", "give either prompt (text) or messages (a chat)");
        }
        boolean special = CompletionParams.optBoolean(body, "add_special_tokens", !chat);
        boolean strs = CompletionParams.optBoolean(body, "return_token_strs", false);
        int[] ids;
        if (chat) {
            if (body.has("add_special_tokens")) {
                throw ApiError.unsupported("add_special_tokens", "with messages the chat format decides the special "
                        + "tokens; add_special_tokens applies to prompt");
            }
            boolean generation = CompletionParams.optBoolean(body, "add_generation_prompt", true);
            ids = prompts.chat(CompletionParams.messages(body.get("messages")), generation);
        } else {
            if (body.has("add_generation_prompt")) {
                throw ApiError.invalid("add_generation_prompt", "add_generation_prompt applies to messages");
            }
            JsonElement prompt = body.get("prompt");
            if (prompt == null || !prompt.isJsonPrimitive() || !prompt.getAsJsonPrimitive().isString()) {
                throw ApiError.invalid("prompt", "prompt must be a string");
            }
            ids = special ? prompts.text(prompt.getAsString()) : prompts.plain(prompt.getAsString());
        }
        JsonObject o = new JsonObject();
        o.addProperty("count", ids.length);
        o.addProperty("max_model_len", system.targetConfig().maxPositionEmbeddings());
        JsonArray tokens = new JsonArray();
        for (int t : ids) {
            tokens.add(t);
        }
        o.add("tokens", tokens);
        if (strs) {
            JsonArray texts = new JsonArray();
            for (int t : ids) {
                texts.add(tokenText(t));
            }
            o.add("token_strs", texts);
        } else {
            o.add("token_strs", JsonNull.INSTANCE);
        }
        return o;
    }

    /** vLLM's POST /detokenize: {@code tokens} → {@code prompt}, their text. */
    JsonObject detokenize(JsonObject body) {
        for (String field : body.keySet()) {
            if (!field.equals("model") && !field.equals("tokens")) {
                throw ApiError.unsupported(field, "'" + field + "' is not supported by /detokenize (it takes model "
                        + "and tokens)");
            }
        }
        checkModel(CompletionParams.optString(body, "model"));
        JsonElement tokens = body.get("tokens");
        if (tokens == null || !tokens.isJsonArray()) {
            throw ApiError.invalid("tokens", "tokens must be a list of token ids");
        }
        int vocab = system.targetConfig().vocabSize();
        int[] ids = new int[tokens.getAsJsonArray().size()];
        for (int i = 0; i < ids.length; i++) {
            Long id = CompletionParams.exactLong(tokens.getAsJsonArray().get(i));
            if (id == null || id < 0 || id >= vocab) {
                throw ApiError.invalid("tokens", "tokens[" + i + "] must be a token id in [0, " + vocab + "), got "
                        + tokens.getAsJsonArray().get(i));
            }
            ids[i] = id.intValue();
        }
        JsonObject o = new JsonObject();
        o.addProperty("prompt", tokenizer.decode(ids));
        return o;
    }

    /**
     * One generation of a request: its index among the request's generations, which prompt it continues, what it
     * submitted, and the text {@code echo} puts before its completion (null: none).
     */
    private record Choice(int index, int prompt, GenerationRequest request, String query, String echo) {
    }

    CompletionStage<HttpResponse> complete(JsonObject body, boolean chat) {
        CompletionParams p = CompletionParams.parse(body, chat);
        checkModel(p.model());
        if (p.draft() != null && !system.draftNames().contains(p.draft())) {
            throw ApiError.invalid("speculation.draft", "unknown draft '" + p.draft() + "' (serving: "
                    + system.draftNames() + ")");
        }
        List<Choice> choices = choices(p);
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        long createdAt = System.currentTimeMillis() / 1000;
        return p.stream() ? stream(p, choices, id, createdAt) : whole(p, choices, id, createdAt);
    }

    private List<Choice> choices(CompletionParams p) {
        // before any prompt is tokenized: a request's size alone can refuse it
        int promptCount = p.chat() ? 1 : p.prompts().size();
        long generations = (long) promptCount * p.bestOf();
        if (generations > maxGenerations) {
            throw ApiError.invalid(promptCount > maxGenerations ? "prompt" : p.bestOf() > p.n() ? "best_of" : "n",
                    promptCount + " prompt(s) × " + (p.bestOf() > p.n() ? "best_of " : "n ") + p.bestOf() + " = "
                    + generations + " generations; one request may start at most " + maxGenerations);
        }
        LlamaConfig config = system.targetConfig();
        int context = config.maxPositionEmbeddings();
        checkVocabulary("logit_bias", p.shaping().biasTokens(), config.vocabSize());
        checkVocabulary("stop_token_ids", p.shaping().stopTokenIds(), config.vocabSize());
        List<int[]> prompts = new ArrayList<>();
        List<String> queries = new ArrayList<>();
        String promptParam = p.chat() ? "messages" : "prompt";
        if (p.chat()) {
            prompts.add(this.prompts.chat(p.messages(), true));
            // the router reads what the user asked, not the template's markers
            queries.add(p.messages().stream().filter(m -> m.role().equals("user")).map(CompletionParams.Message::content)
                    .collect(Collectors.joining("\n")));
        } else {
            for (CompletionParams.Prompt prompt : p.prompts()) {
                if (prompt.text() != null) {
                    prompts.add(this.prompts.text(prompt.text()));
                    queries.add(prompt.text());
                } else {
                    for (int t : prompt.tokens()) {
                        if (t < 0 || t >= config.vocabSize()) {
                            throw ApiError.invalid("prompt", "token id " + t + " is outside the vocabulary [0, "
                                    + config.vocabSize() + ")");
                        }
                    }
                    prompts.add(prompt.tokens());
                    queries.add(tokenizer.decode(prompt.tokens()));
                }
            }
        }
        List<Choice> out = new ArrayList<>();
        int index = 0;
        for (int i = 0; i < prompts.size(); i++) {
            int[] ids = prompts.get(i);
            if (ids.length == 0) {
                throw ApiError.invalid(promptParam, "the prompt is empty");
            }
            if (ids.length >= context) {
                throw ApiError.of(new Problem.ContextExhausted(promptParam, "the prompt has " + ids.length
                        + " tokens; the model's context holds " + context + " (prompt and completion together)"));
            }
            int maxTokens = p.maxTokens() != null ? p.maxTokens() : p.chat() ? context - ids.length : 16;
            // compared as room left, not as a sum: max_tokens may be as large as an int goes
            if (maxTokens > context - ids.length) {
                throw ApiError.of(new Problem.ContextExhausted(p.chat() ? "max_completion_tokens" : "max_tokens",
                        "max_tokens " + maxTokens + " and the prompt's " + ids.length + " tokens exceed the model's "
                        + "context of " + context + " tokens"));
            }
            if (p.shaping().minTokens() > maxTokens) {
                throw ApiError.invalid("min_tokens", "min_tokens " + p.shaping().minTokens() + " exceeds max_tokens "
                        + maxTokens);
            }
            int k = !p.speculate() ? 0 : p.numDraftTokens() != null ? p.numDraftTokens() : maxDraftTokens;
            // best_of ranks by mean token logprob, so its generations keep theirs even when not asked for
            int logprobs = p.logprobs() != null ? p.logprobs() : p.bestOf() > p.n() ? 0 : -1;
            String echo = !p.echo() ? null : p.prompts().get(i).text() != null ? p.prompts().get(i).text()
                    : tokenizer.decode(ids);
            for (int j = 0; j < p.bestOf(); j++) {
                // choice j of a seeded request takes seed + j (wrapping past the long range, still deterministic);
                // a seeded request's tokens depend on (seed, position, the target) alone, whichever draft serves
                long seed = p.seed() != null ? p.seed() + j : ThreadLocalRandom.current().nextLong();
                SamplingParams sampling = new SamplingParams(p.temperature(), p.topK(), p.topP(), seed, p.shaping(),
                        p.seed() != null);
                // echo with logprobs: the prompt's tokens get theirs too, from the target's prefill
                out.add(new Choice(index++, i, new GenerationRequest(ids, maxTokens, sampling, p.stop(), p.ignoreEos(),
                        k, logprobs, p.echo() && p.logprobs() != null), queries.get(i), echo));
            }
        }
        return out;
    }

    private static void checkVocabulary(String param, int[] tokens, int vocab) {
        for (int t : tokens) {
            if (t >= vocab) {
                throw ApiError.invalid(param, "token id " + t + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
    }

    /**
     * best_of: of each prompt's best_of generations (consecutive in {@code done}), the n with the highest mean
     * token log-probability, best first (ties: in generation order), as OpenAI chooses them.
     */
    static List<RequestActor.Finished> best(List<RequestActor.Finished> done, int bestOf, int n) {
        if (bestOf == n) {
            return done;
        }
        List<RequestActor.Finished> out = new ArrayList<>();
        for (int from = 0; from < done.size(); from += bestOf) {
            List<RequestActor.Finished> group = new ArrayList<>(done.subList(from, from + bestOf));
            group.sort(Comparator.comparingDouble(OpenAiApi::meanLogprob).reversed());
            out.addAll(group.subList(0, n));
        }
        return out;
    }

    /** The mean log-probability of a generation's tokens; -∞ for one with none (it ranks last). */
    static double meanLogprob(RequestActor.Finished f) {
        List<TokenLogprob> lps = f.result().logprobs();
        if (lps == null || lps.isEmpty()) {
            return Double.NEGATIVE_INFINITY;
        }
        double sum = 0;
        for (TokenLogprob lp : lps) {
            sum += lp.logprob();
        }
        return sum / lps.size();
    }

    private ServingSystem.Submission submission(CompletionParams p, Choice c) {
        return new ServingSystem.Submission(c.request(), c.query(), p.draft(), p.numDraftTokens() != null,
                p.speculate() && c.request().numDraftTokens() > 0, requestTimeout);
    }

    // ---- one JSON answer

    private CompletionStage<HttpResponse> whole(CompletionParams p, List<Choice> choices, String id, long createdAt) {
        List<ServingSystem.Submission> all = choices.stream().map(c -> submission(p, c)).toList();
        List<ServingSystem.Submitted> submitted = system.sendAll(all, Collections.nCopies(all.size(), null));
        List<CompletableFuture<RequestActor.Finished>> results = new ArrayList<>();
        for (ServingSystem.Submitted s : submitted) {
            CompletableFuture<RequestActor.Finished> r = s.result().toCompletableFuture();
            // one choice that fails fails the request: the others stop, their slots free at once
            r.whenComplete((f, failure) -> {
                if (failure != null || f.problem() != null) {
                    submitted.forEach(other -> system.cancel(other.id()));
                }
            });
            results.add(r);
        }
        return CompletableFuture.allOf(results.toArray(CompletableFuture[]::new)).handle((x, failure) -> {
            if (failure != null) {
                throw new CompletionException(asApiError(failure));
            }
            List<RequestActor.Finished> ran = results.stream().map(CompletableFuture::join).toList();
            for (RequestActor.Finished f : ran) {
                ApiError e = problem(f);
                if (e != null) {
                    throw new CompletionException(e);
                }
            }
            List<RequestActor.Finished> done = best(ran, p.bestOf(), p.n());
            List<String> echoes = new ArrayList<>();
            List<int[]> promptIds = new ArrayList<>();
            for (int i = 0; i < choices.size(); i += p.bestOf()) {
                echoes.addAll(Collections.nCopies(p.n(), choices.get(i).echo()));
                promptIds.addAll(Collections.nCopies(p.n(), choices.get(i).request().prompt()));
            }
            JsonObject o = new JsonObject();
            o.addProperty("id", id);
            o.addProperty("object", p.chat() ? "chat.completion" : "text_completion");
            o.addProperty("created", createdAt);
            o.addProperty("model", model);
            JsonArray array = new JsonArray();
            for (int i = 0; i < done.size(); i++) {
                GenerationResult r = done.get(i).result();
                JsonObject choice = new JsonObject();
                choice.addProperty("index", i);
                if (p.chat()) {
                    JsonObject message = new JsonObject();
                    message.addProperty("role", "assistant");
                    message.addProperty("content", r.text());
                    choice.add("message", message);
                    choice.add("logprobs", r.logprobs() == null ? JsonNull.INSTANCE : chatLogprobs(r.logprobs()));
                } else {
                    String echo = echoes.get(i) == null ? "" : echoes.get(i);
                    choice.addProperty("text", echo + r.text());
                    choice.add("logprobs", r.logprobs() == null || p.logprobs() == null ? JsonNull.INSTANCE
                            : completionLogprobs(promptIds.get(i), r.promptLogprobs(), r.logprobs(),
                                    new int[] {echo.length()}));
                }
                choice.addProperty("finish_reason", finishReason(r));
                array.add(choice);
            }
            o.add("choices", array);
            // usage counts every generation best_of ran, as OpenAI bills them; each prompt once
            o.add("usage", usage(ran, p.bestOf()));
            o.add("metrics", metrics(ran));
            return Http.json(200, o);
        });
    }

    // ---- Server-Sent Events

    private CompletionStage<HttpResponse> stream(CompletionParams p, List<Choice> choices, String id, long createdAt) {
        Pair<BoundedSourceQueue<ByteString>, Source<ByteString, NotUsed>> queue = Source.<ByteString>queue(
                4 * choices.size() * (choices.get(0).request().maxTokens() + 4) + 16).preMaterialize(materializer);
        BoundedSourceQueue<ByteString> events = queue.first();
        CompletableFuture<HttpResponse> response = new CompletableFuture<>();
        AtomicBoolean ended = new AtomicBoolean();
        List<String> ids = new ArrayList<>();
        Source<ByteString, NotUsed> body = queue.second().watchTermination((nu, done) -> {
            CompletableFuture<?> open = done.toCompletableFuture().handle((d, t) -> null);
            openStreams.add(open);
            open.thenRun(() -> openStreams.remove(open));
            // a client that goes away cancels its generations: their caches are freed at once
            done.whenComplete((d, t) -> {
                if (!ended.get()) {
                    synchronized (ids) {
                        ids.forEach(system::cancel);
                    }
                }
            });
            return nu;
        });
        HttpResponse streaming = Http.eventStream(body);
        Runnable open = () -> response.complete(streaming);
        // the stream opens with its first token, or by openStreamBy at the latest (a long prompt's prefill can take
        // longer): a request refused before then is answered with its error status, later trouble is an event
        system.actorSystem().scheduler().scheduleOnce(openStreamBy, open, system.actorSystem().executionContext());
        AtomicInteger remaining = new AtomicInteger(choices.size());
        RequestActor.Finished[] finished = new RequestActor.Finished[choices.size()];
        List<ServingSystem.Submission> generations = new ArrayList<>();
        List<Consumer<RequestActor.Tokens>> listeners = new ArrayList<>();
        List<TextStream> texts = new ArrayList<>();
        List<boolean[]> firsts = new ArrayList<>();
        List<String[]> leads = new ArrayList<>();
        for (Choice c : choices) {
            TextStream text = new TextStream(tokenizer, p.stop());
            boolean[] first = {true};
            texts.add(text);
            firsts.add(first);
            generations.add(submission(p, c));
            String[] lead = {c.echo()};
            leads.add(lead);
            // where the next token's text starts in the choice's whole text (text_offset), echo included
            int[] offset = {c.echo() == null ? 0 : c.echo().length()};
            // echo's prompt logprobs come in parts before the first tokens, which they go out with
            List<TokenLogprob> promptLps = c.request().promptLogprobs() ? new ArrayList<>() : null;
            boolean[] promptSent = {false};
            listeners.add(t -> {
                if (t.promptLogprobs() != null) {
                    promptLps.addAll(t.promptLogprobs());
                }
                if (t.tokens().length == 0) {
                    return;
                }
                List<TokenLogprob> prompt = promptSent[0] ? null : promptLps;
                promptSent[0] = true;
                open.run();
                String delta = text.append(t.tokens());
                if (lead[0] != null) {
                    delta = lead[0] + delta;
                    lead[0] = null;
                }
                if (!delta.isEmpty() || t.logprobs() != null || (p.chat() && first[0])) {
                    JsonObject chunk = chunk(p, id, createdAt, c.index(), delta, first[0], null);
                    if (t.logprobs() != null) {
                        chunk.getAsJsonArray("choices").get(0).getAsJsonObject().add("logprobs", p.chat()
                                ? chatLogprobs(t.logprobs())
                                : completionLogprobs(c.request().prompt(), prompt, t.logprobs(), offset));
                    }
                    first[0] = false;
                    send(events, chunk);
                }
            });
        }
        List<ServingSystem.Submitted> submitted = system.sendAll(generations, listeners);
        synchronized (ids) {
            submitted.forEach(s -> ids.add(s.id()));
        }
        AtomicBoolean refused = new AtomicBoolean();
        AtomicBoolean failed = new AtomicBoolean();
        for (int i = 0; i < choices.size(); i++) {
            Choice c = choices.get(i);
            TextStream text = texts.get(i);
            boolean[] first = firsts.get(i);
            submitted.get(i).result().whenComplete((f, failure) -> {
                if (refused.get()) {
                    return; // the request was answered with its error already
                }
                ApiError e = failure != null ? asApiError(failure) : problem(f);
                if (e != null && response.complete(Http.error(e))) {
                    refused.set(true);
                    // nothing was streamed yet: answer with the error itself (429 for saturation)
                    ended.set(true);
                    synchronized (ids) {
                        ids.forEach(system::cancel);
                    }
                    events.complete();
                    return;
                }
                open.run();
                boolean all = remaining.decrementAndGet() == 0;
                if (e != null) {
                    // a stream under way: the first error is its event, and the other choices stop (their own
                    // ends, cancelled, say nothing more)
                    if (failed.compareAndSet(false, true)) {
                        synchronized (ids) {
                            ids.forEach(system::cancel);
                        }
                        send(events, e.toJson());
                    }
                } else {
                    finished[c.index()] = f;
                    String rest = text.finish(f.result().text());
                    String[] lead = leads.get(c.index());
                    if (lead[0] != null) {
                        rest = lead[0] + rest;
                        lead[0] = null;
                    }
                    JsonObject last = chunk(p, id, createdAt, c.index(), rest, first[0], finishReason(f.result()));
                    if (all && !p.includeUsage()) {
                        last.add("metrics", metrics(doneOf(finished)));
                    }
                    send(events, last);
                }
                if (!all) {
                    return;
                }
                if (p.includeUsage() || e != null) {
                    JsonObject u = chunk(p, id, createdAt, -1, null, false, null);
                    if (p.includeUsage()) {
                        u.add("usage", usage(doneOf(finished), p.n()));
                    }
                    u.add("metrics", metrics(doneOf(finished)));
                    send(events, u);
                }
                ended.set(true);
                events.offer(ByteString.fromString("data: [DONE]\n\n"));
                events.complete();
            });
        }
        return response;
    }

    private static List<RequestActor.Finished> doneOf(RequestActor.Finished[] finished) {
        List<RequestActor.Finished> out = new ArrayList<>();
        for (RequestActor.Finished f : finished) {
            if (f != null) {
                out.add(f);
            }
        }
        return out;
    }

    private static void send(BoundedSourceQueue<ByteString> events, JsonObject o) {
        events.offer(ByteString.fromString("data: " + o + "\n\n"));
    }

    /** A streamed chunk for one choice ({@code index} -1: a chunk with no choices, for usage). */
    private JsonObject chunk(CompletionParams p, String id, long createdAt, int index, String text, boolean first,
            String finishReason) {
        JsonObject o = new JsonObject();
        o.addProperty("id", id);
        o.addProperty("object", p.chat() ? "chat.completion.chunk" : "text_completion");
        o.addProperty("created", createdAt);
        o.addProperty("model", model);
        JsonArray array = new JsonArray();
        if (index >= 0) {
            JsonObject choice = new JsonObject();
            choice.addProperty("index", index);
            if (p.chat()) {
                JsonObject delta = new JsonObject();
                if (first) {
                    delta.addProperty("role", "assistant");
                }
                if (text != null && (!text.isEmpty() || finishReason == null)) {
                    delta.addProperty("content", text);
                }
                choice.add("delta", delta);
            } else {
                choice.addProperty("text", text == null ? "" : text);
            }
            choice.add("logprobs", JsonNull.INSTANCE);
            if (finishReason == null) {
                choice.add("finish_reason", JsonNull.INSTANCE);
            } else {
                choice.addProperty("finish_reason", finishReason);
            }
            array.add(choice);
        }
        o.add("choices", array);
        return o;
    }

    // ---- shared pieces

    /** The API error a finished generation's problem is, or null when it finished normally. */
    private static ApiError problem(RequestActor.Finished f) {
        return f.problem() == null ? null : ApiError.of(f.problem());
    }

    private static ApiError asApiError(Throwable t) {
        Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        if (cause instanceof ApiError e) {
            return e;
        }
        return HttpServer.asApiError(cause);
    }

    private static String finishReason(GenerationResult r) {
        return r.finishReason() == null ? "length" : r.finishReason().name().toLowerCase(Locale.ROOT);
    }

    /** Token counts; the n choices of one prompt count that prompt once, as OpenAI does. */
    private static JsonObject usage(List<RequestActor.Finished> done, int n) {
        int prompt = 0;
        int completion = 0;
        for (RequestActor.Finished f : done) {
            prompt += f.result().promptTokens();
            completion += f.result().tokens().length;
        }
        prompt /= n;
        JsonObject u = new JsonObject();
        u.addProperty("prompt_tokens", prompt);
        u.addProperty("completion_tokens", completion);
        u.addProperty("total_tokens", prompt + completion);
        return u;
    }

    /** vLLM's per-request speculation figures, summed over the choices, with the draft and its version. */
    static JsonObject metrics(List<RequestActor.Finished> done) {
        long rounds = 0;
        long draftTokens = 0;
        long accepted = 0;
        String draft = null;
        long version = -1;
        String queryClass = null;
        Map<String, long[]> byProposer = new LinkedHashMap<>();
        for (RequestActor.Finished f : done) {
            SpeculationStats s = f.result().stats();
            s.byProposer().forEach((name, p) -> {
                long[] sum = byProposer.computeIfAbsent(name, x -> new long[3]);
                sum[0] += p.rounds();
                sum[1] += p.proposed();
                sum[2] += p.accepted();
            });
            rounds += s.rounds();
            draftTokens += s.draftTokens();
            accepted += s.acceptedTokens();
            if (f.draft() != null) {
                draft = f.draft();
                version = Math.max(version, s.lastDraftVersion());
            }
            if (f.queryClass() != null) {
                queryClass = f.queryClass();
            }
        }
        JsonObject sd = new JsonObject();
        sd.addProperty("num_spec_steps", rounds);
        sd.addProperty("num_draft_tokens", draftTokens);
        sd.addProperty("num_accepted_draft_tokens", accepted);
        sd.addProperty("draft_acceptance_rate", draftTokens == 0 ? 0.0 : (double) accepted / draftTokens);
        sd.addProperty("mean_acceptance_length", rounds == 0 ? 1.0 : 1.0 + (double) accepted / rounds);
        sd.addProperty("draft", draft);
        if (version < 0) {
            sd.add("draft_version", JsonNull.INSTANCE);
        } else {
            sd.addProperty("draft_version", version);
        }
        sd.addProperty("query_class", queryClass);
        JsonObject proposers = new JsonObject();
        byProposer.forEach((name, sum) -> {
            JsonObject p = new JsonObject();
            p.addProperty("num_spec_steps", sum[0]);
            p.addProperty("num_draft_tokens", sum[1]);
            p.addProperty("num_accepted_draft_tokens", sum[2]);
            p.addProperty("mean_acceptance_length", sum[0] == 0 ? 1.0 : 1.0 + (double) sum[2] / sum[0]);
            proposers.add(name, p);
        });
        sd.add("proposers", proposers);
        JsonObject m = new JsonObject();
        m.add("speculative_decoding", sd);
        return m;
    }

    private String tokenText(int token) {
        return tokenizer.decode(new int[] {token});
    }

    /**
     * The completions API's logprobs object: with {@code promptLps} (echo), the prompt's tokens first, from
     * text offset 0, the first one's logprob and top_logprobs null (nothing predicts it), as OpenAI answers;
     * then the completion's tokens from {@code offset[0]}, which is left where the next token's text starts.
     *
     * @param promptLps prompt token i + 1's entry at i, or null: no prompt entries
     */
    private JsonObject completionLogprobs(int[] prompt, List<TokenLogprob> promptLps, List<TokenLogprob> lps,
            int[] offset) {
        JsonArray tokens = new JsonArray();
        JsonArray logprobs = new JsonArray();
        JsonArray tops = new JsonArray();
        JsonArray offsets = new JsonArray();
        if (promptLps != null) {
            int at = 0;
            for (int i = 0; i < prompt.length; i++) {
                String t = tokenText(prompt[i]);
                tokens.add(t);
                if (i == 0) {
                    logprobs.add(JsonNull.INSTANCE);
                    tops.add(JsonNull.INSTANCE);
                } else {
                    logprobs.add(promptLps.get(i - 1).logprob());
                    tops.add(topLogprobs(promptLps.get(i - 1)));
                }
                offsets.add(at);
                at += t.length();
            }
        }
        int at = offset[0];
        for (TokenLogprob lp : lps) {
            String t = tokenText(lp.token());
            tokens.add(t);
            logprobs.add(lp.logprob());
            tops.add(topLogprobs(lp));
            offsets.add(at);
            at += t.length();
        }
        offset[0] = at;
        JsonObject o = new JsonObject();
        o.add("tokens", tokens);
        o.add("token_logprobs", logprobs);
        o.add("top_logprobs", tops);
        o.add("text_offset", offsets);
        return o;
    }

    private JsonObject topLogprobs(TokenLogprob lp) {
        JsonObject top = new JsonObject();
        for (int i = 0; i < lp.topTokens().length; i++) {
            top.addProperty(tokenText(lp.topTokens()[i]), lp.topLogprobs()[i]);
        }
        return top;
    }

    /** The chat API's logprobs object. */
    private JsonObject chatLogprobs(List<TokenLogprob> lps) {
        JsonArray content = new JsonArray();
        for (TokenLogprob lp : lps) {
            JsonObject entry = tokenEntry(lp.token(), lp.logprob());
            JsonArray top = new JsonArray();
            for (int i = 0; i < lp.topTokens().length; i++) {
                top.add(tokenEntry(lp.topTokens()[i], lp.topLogprobs()[i]));
            }
            entry.add("top_logprobs", top);
            content.add(entry);
        }
        JsonObject o = new JsonObject();
        o.add("content", content);
        return o;
    }

    private JsonObject tokenEntry(int token, float logprob) {
        String text = tokenText(token);
        JsonObject o = new JsonObject();
        o.addProperty("token", text);
        o.addProperty("logprob", logprob);
        JsonArray bytes = new JsonArray();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        o.add("bytes", bytes);
        return o;
    }

}
