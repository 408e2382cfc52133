package dev.osd.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.osd.engine.LogitsShaping;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * A completion or chat completion request as the OpenAI API gives it, checked field by field: every wrong
 * type or out-of-range value is refused with the name of the parameter. Token counts against the context
 * are checked later, once the prompt is tokenized ({@link OpenAiApi}).
 *
 * @param prompts for completions, each prompt as text or as token ids (one of the two is null)
 * @param messages for chat completions, the conversation (null for completions)
 * @param maxTokens most tokens per choice; null: the completions default (16) or the rest of the context (chat)
 * @param logprobs completions: how many alternatives per token (0: only the chosen one), chat: top_logprobs;
 *     null: none
 * @param numDraftTokens the request's k; null: the draft's adaptive choice
 * @param draft the draft the request names, or null for the router's choice
 * @param shaping logit_bias, the penalties, min_tokens, min_p and stop_token_ids (token ids not yet checked
 *     against the vocabulary, which {@link OpenAiApi} does; the history is bound when a generation starts)
 * @param echo completions: the prompt comes back before the completion
 * @param bestOf completions: how many generations per prompt to choose the n best from (n when not given)
 */
record CompletionParams(boolean chat, String model, List<Prompt> prompts, List<CompletionParams.Message> messages,
        Integer maxTokens, double temperature, double topP, int topK, int n, List<String> stop, Long seed,
        boolean stream, boolean includeUsage, Integer logprobs, boolean ignoreEos, boolean speculate,
        Integer numDraftTokens, String draft, LogitsShaping shaping, boolean echo, int bestOf) {

    /** Most choices one request may ask for. */
    static final int MAX_N = 16;
    /** Most proposal length a request may ask for. */
    static final int MAX_DRAFT_TOKENS = 16;

    /** One prompt: text, or token ids. */
    record Prompt(String text, int[] tokens) {
    }

    /**
     * Fields of the OpenAI and vLLM APIs that this server does not apply: accepted only at their neutral value
     * (what clients such as LangChain send by default), refused otherwise with 400 {@code unsupported_parameter}
     * naming the field, never silently ignored. {@code suffix} asks for an insertion (fill-in-the-middle), which
     * a model needs to have been trained for; the served models were not.
     */
    private static void refuseUnhonoured(JsonObject body, boolean chat) {
        if (!chat) {
            neutral(body, "suffix", v -> v.isJsonPrimitive() && v.getAsJsonPrimitive().isString()
                    && v.getAsString().isEmpty());
            return;
        }
        // fields of /v1/completions that chat completions do not have: refused there, never silently dropped
        for (String field : List.of("echo", "best_of", "suffix")) {
            JsonElement v = body.get(field);
            if (v != null && !v.isJsonNull()) {
                throw ApiError.unsupported(field, field + " is a field of /v1/completions, not of "
                        + "/v1/chat/completions");
            }
        }
    }

    /** Most entries in logit_bias and stop_token_ids. */
    static final int MAX_TOKEN_LIST = 1024;

    /** logit_bias, the penalties, min_tokens, min_p and stop_token_ids, each checked by name. */
    private static LogitsShaping shaping(JsonObject body) {
        double presence = optNumber(body, "presence_penalty", 0);
        if (!(presence >= -2 && presence <= 2)) {
            throw ApiError.invalid("presence_penalty", "presence_penalty must be between -2 and 2, got " + presence);
        }
        double frequency = optNumber(body, "frequency_penalty", 0);
        if (!(frequency >= -2 && frequency <= 2)) {
            throw ApiError.invalid("frequency_penalty", "frequency_penalty must be between -2 and 2, got "
                    + frequency);
        }
        double repetition = optNumber(body, "repetition_penalty", 1);
        if (!(repetition > 0) || Double.isInfinite(repetition)) {
            throw ApiError.invalid("repetition_penalty", "repetition_penalty must be a number > 0, got " + repetition);
        }
        double minP = optNumber(body, "min_p", 0);
        if (!(minP >= 0 && minP <= 1)) {
            throw ApiError.invalid("min_p", "min_p must be in [0, 1], got " + minP);
        }
        Integer minTokensOrNull = optInt(body, "min_tokens");
        int minTokens = minTokensOrNull == null ? 0 : minTokensOrNull;
        if (minTokens < 0) {
            throw ApiError.invalid("min_tokens", "min_tokens must be >= 0, got " + minTokens);
        }
        TreeMap<Integer, Float> bias = new TreeMap<>();
        JsonElement lb = body.get("logit_bias");
        if (lb != null && !lb.isJsonNull()) {
            if (!lb.isJsonObject()) {
                throw ApiError.invalid("logit_bias", "logit_bias must be an object of token ids to biases");
            }
            if (lb.getAsJsonObject().size() > MAX_TOKEN_LIST) {
                throw ApiError.invalid("logit_bias", "logit_bias has more than " + MAX_TOKEN_LIST + " entries");
            }
            for (Map.Entry<String, JsonElement> e : lb.getAsJsonObject().entrySet()) {
                int token;
                try {
                    token = Integer.parseInt(e.getKey());
                } catch (NumberFormatException notAnId) {
                    throw ApiError.invalid("logit_bias", "logit_bias keys must be token ids, got \"" + e.getKey()
                            + "\"");
                }
                JsonElement v = e.getValue();
                if (token < 0 || !v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber()
                        || !(v.getAsDouble() >= -100 && v.getAsDouble() <= 100)) {
                    throw ApiError.invalid("logit_bias", "logit_bias maps token ids >= 0 to numbers between -100 "
                            + "and 100, got " + e.getKey() + ": " + v);
                }
                if (bias.put(token, v.getAsFloat()) != null) {
                    throw ApiError.invalid("logit_bias", "logit_bias names token " + token + " twice");
                }
            }
        }
        TreeSet<Integer> stops = new TreeSet<>();
        JsonElement st = body.get("stop_token_ids");
        if (st != null && !st.isJsonNull()) {
            if (!st.isJsonArray() || st.getAsJsonArray().size() > MAX_TOKEN_LIST) {
                throw ApiError.invalid("stop_token_ids", "stop_token_ids must be a list of at most " + MAX_TOKEN_LIST
                        + " token ids");
            }
            for (JsonElement t : st.getAsJsonArray()) {
                Long id = exactLong(t);
                if (id == null || id < 0 || id > Integer.MAX_VALUE) {
                    throw ApiError.invalid("stop_token_ids", "stop_token_ids must hold token ids, got " + t);
                }
                stops.add(id.intValue());
            }
        }
        return LogitsShaping.of(bias.keySet().stream().mapToInt(Integer::intValue).toArray(),
                toFloats(bias.values()), presence, frequency, repetition, minTokens, minP,
                stops.stream().mapToInt(Integer::intValue).toArray());
    }

    private static float[] toFloats(Collection<Float> values) {
        float[] out = new float[values.size()];
        int i = 0;
        for (float v : values) {
            out[i++] = v;
        }
        return out;
    }

    private static void neutral(JsonObject body, String field, Predicate<JsonElement> isNeutral) {
        JsonElement v = body.get(field);
        if (v != null && !v.isJsonNull() && !isNeutral.test(v)) {
            throw ApiError.unsupported(field, field + " is not applied by this server yet; send it at its neutral "
                    + "value or leave it out");
        }
    }

    static CompletionParams parse(JsonObject body, boolean chat) {
        refuseUnhonoured(body, chat);
        String model = optString(body, "model");
        List<Prompt> prompts = null;
        List<Message> messages = null;
        if (chat) {
            // until structured output exists, these are refused rather than answered with plain text
            for (String field : List.of("tools", "tool_choice", "response_format", "functions", "function_call")) {
                JsonElement f = body.get(field);
                if (f != null && !f.isJsonNull()) {
                    throw ApiError.unsupported(field, field + " is not supported yet: this server does not "
                            + "constrain its output to tool calls or a format");
                }
            }
            messages = messages(body.get("messages"));
        } else {
            prompts = prompts(body.get("prompt"));
        }
        Integer maxTokens = optInt(body, chat && body.has("max_completion_tokens") ? "max_completion_tokens"
                : "max_tokens");
        if (maxTokens != null && maxTokens < 1) {
            throw ApiError.invalid(chat && body.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens",
                    "max_tokens must be at least 1, got " + maxTokens);
        }
        double temperature = optNumber(body, "temperature", 1.0);
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw ApiError.invalid("temperature", "temperature must be a number >= 0, got " + temperature);
        }
        double topP = optNumber(body, "top_p", 1.0);
        if (!(topP > 0 && topP <= 1)) {
            throw ApiError.invalid("top_p", "top_p must be in (0, 1], got " + topP);
        }
        Integer topKOrNull = optInt(body, "top_k");
        int topK = topKOrNull == null ? 0 : topKOrNull;
        if (topK < -1) {
            throw ApiError.invalid("top_k", "top_k must be -1 or 0 (no limit) or positive, got " + topK);
        }
        Integer nOrNull = optInt(body, "n");
        int n = nOrNull == null ? 1 : nOrNull;
        if (n < 1 || n > MAX_N) {
            throw ApiError.invalid("n", "n must be between 1 and " + MAX_N + ", got " + n);
        }
        List<String> stop = stop(body.get("stop"));
        Long seed = optLong(body, "seed");
        boolean stream = optBoolean(body, "stream", false);
        boolean includeUsage = false;
        JsonElement so = body.get("stream_options");
        if (so != null && !so.isJsonNull()) {
            if (!so.isJsonObject()) {
                throw ApiError.invalid("stream_options", "stream_options must be an object");
            }
            if (!stream) {
                throw ApiError.invalid("stream_options", "stream_options is only allowed when stream is true");
            }
            includeUsage = optBoolean(so.getAsJsonObject(), "include_usage", "stream_options.include_usage", false);
        }
        Integer logprobs = logprobs(body, chat);
        boolean ignoreEos = optBoolean(body, "ignore_eos", false);
        boolean speculate = true;
        Integer k = null;
        String draft = null;
        JsonElement sp = body.get("speculation");
        if (sp != null && !sp.isJsonNull()) {
            if (!sp.isJsonObject()) {
                throw ApiError.invalid("speculation", "speculation must be an object {enabled, num_draft_tokens, draft}");
            }
            JsonObject s = sp.getAsJsonObject();
            speculate = optBoolean(s, "enabled", "speculation.enabled", true);
            k = optInt(s, "num_draft_tokens", "speculation.num_draft_tokens");
            if (k != null && (k < 0 || k > MAX_DRAFT_TOKENS)) {
                throw ApiError.invalid("speculation.num_draft_tokens", "num_draft_tokens must be between 0 and "
                        + MAX_DRAFT_TOKENS + ", got " + k);
            }
            if (k != null && k == 0) {
                speculate = false;
            }
            draft = optString(s, "draft", "speculation.draft");
        }
        LogitsShaping shaping = shaping(body);
        boolean echo = !chat && optBoolean(body, "echo", false);
        Integer bestOfOrNull = chat ? null : optInt(body, "best_of");
        int bestOf = bestOfOrNull == null ? n : bestOfOrNull;
        if (bestOf < n || bestOf > MAX_N) {
            throw ApiError.invalid("best_of", "best_of must be between n (" + n + ") and " + MAX_N + ", got " + bestOf);
        }
        if (bestOf > n && stream) {
            throw ApiError.invalid("best_of", "best_of cannot be used with stream: the best are known only at the end");
        }
        return new CompletionParams(chat, model, prompts, messages, maxTokens, temperature, topP, topK == -1 ? 0 : topK,
                n, stop, seed, stream, includeUsage, logprobs, ignoreEos, speculate, k, draft, shaping, echo, bestOf);
    }

    private static List<Prompt> prompts(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            throw ApiError.invalid("prompt", "prompt is required");
        }
        List<Prompt> out = new ArrayList<>();
        if (isString(e)) {
            out.add(new Prompt(e.getAsString(), null));
            return out;
        }
        if (!e.isJsonArray() || e.getAsJsonArray().isEmpty()) {
            throw ApiError.invalid("prompt", "prompt must be a string, a list of strings, a list of token ids or a "
                    + "list of lists of token ids (not empty)");
        }
        JsonArray a = e.getAsJsonArray();
        if (a.get(0).isJsonPrimitive() && a.get(0).getAsJsonPrimitive().isNumber()) {
            out.add(new Prompt(null, tokenIds(a)));
            return out;
        }
        for (JsonElement p : a) {
            if (isString(p)) {
                out.add(new Prompt(p.getAsString(), null));
            } else if (p.isJsonArray() && !p.getAsJsonArray().isEmpty()) {
                out.add(new Prompt(null, tokenIds(p.getAsJsonArray())));
            } else {
                throw ApiError.invalid("prompt", "each prompt in the list must be a string or a list of token ids");
            }
        }
        return out;
    }

    private static int[] tokenIds(JsonArray a) {
        int[] ids = new int[a.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonElement t = a.get(i);
            Long id = exactLong(t);
            if (id == null || id < Integer.MIN_VALUE || id > Integer.MAX_VALUE) {
                throw ApiError.invalid("prompt", "token ids must be integers, got " + t);
            }
            ids[i] = id.intValue();
        }
        return ids;
    }

    /**
     * One chat message: its role and text, and every field it came with as the chat template sees it
     * ({@code role}, {@code content}, {@code name}, {@code tool_calls} with each call's {@code arguments} parsed
     * from their JSON text into an object as vLLM hands them to templates, {@code tool_call_id}).
     */
    record Message(String role, String content, Map<String, Object> fields) {
    }

    private static final Set<String> MESSAGE_FIELDS = Set.of("role", "content", "name", "tool_calls", "tool_call_id");

    static List<Message> messages(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            throw ApiError.invalid("messages", "messages is required");
        }
        if (!e.isJsonArray() || e.getAsJsonArray().isEmpty()) {
            throw ApiError.invalid("messages", "messages must be a non-empty list of {role, content}");
        }
        List<Message> out = new ArrayList<>();
        int i = 0;
        for (JsonElement m : e.getAsJsonArray()) {
            String where = "messages[" + i++ + "]";
            if (!m.isJsonObject()) {
                throw ApiError.invalid(where, where + " must be an object {role, content}");
            }
            JsonObject o = m.getAsJsonObject();
            String role = optString(o, "role", where + ".role");
            if (role == null || !(role.equals("system") || role.equals("user") || role.equals("assistant")
                    || role.equals("developer") || role.equals("tool"))) {
                throw ApiError.invalid(where + ".role", where + ".role must be system, developer, user, assistant "
                        + "or tool, got " + role);
            }
            role = role.equals("developer") ? "system" : role;
            for (Map.Entry<String, JsonElement> field : o.entrySet()) {
                if (!MESSAGE_FIELDS.contains(field.getKey()) && !field.getValue().isJsonNull()) {
                    throw ApiError.unsupported(where + "." + field.getKey(), where + "." + field.getKey()
                            + " is not supported (a message takes " + new TreeSet<>(MESSAGE_FIELDS) + ")");
                }
            }
            String content = content(o.get("content"), where + ".content");
            Map<String, Object> fields = new LinkedHashMap<>();
            fields.put("role", role);
            fields.put("content", content);
            String name = optString(o, "name", where + ".name");
            if (name != null) {
                fields.put("name", name);
            }
            JsonElement calls = o.get("tool_calls");
            if (calls != null && !calls.isJsonNull()) {
                if (!role.equals("assistant")) {
                    throw ApiError.invalid(where + ".tool_calls", "only an assistant message has tool_calls");
                }
                fields.put("tool_calls", toolCalls(calls, where + ".tool_calls"));
            }
            String callId = optString(o, "tool_call_id", where + ".tool_call_id");
            if (role.equals("tool")) {
                if (callId == null) {
                    throw ApiError.invalid(where + ".tool_call_id", "a tool message needs the tool_call_id it answers");
                }
                fields.put("tool_call_id", callId);
            } else if (callId != null) {
                throw ApiError.invalid(where + ".tool_call_id", "only a tool message has a tool_call_id");
            }
            out.add(new Message(role, content, Collections.unmodifiableMap(fields)));
        }
        return out;
    }

    /** OpenAI's tool_calls [{id, type: function, function: {name, arguments}}], for the template. */
    private static List<Object> toolCalls(JsonElement calls, String param) {
        if (!calls.isJsonArray()) {
            throw ApiError.invalid(param, param + " must be a list of {id, type, function: {name, arguments}}");
        }
        List<Object> out = new ArrayList<>();
        int i = 0;
        for (JsonElement c : calls.getAsJsonArray()) {
            String where = param + "[" + i++ + "]";
            if (!c.isJsonObject() || !(c.getAsJsonObject().get("function") instanceof JsonObject function)
                    || !isString(function.get("name"))) {
                throw ApiError.invalid(where, where + " must be {id, type: function, function: {name, arguments}}");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> call = (Map<String, Object>) plain(c);
            @SuppressWarnings("unchecked")
            Map<String, Object> f = (Map<String, Object>) call.get("function");
            JsonElement arguments = function.get("arguments");
            if (isString(arguments)) {
                // templates index and tojson the arguments: vLLM hands them over as the object their JSON names
                try {
                    f.put("arguments", plain(JsonParser.parseString(arguments.getAsString())));
                } catch (JsonParseException notJson) {
                    throw ApiError.invalid(where + ".function.arguments", "arguments must be JSON text: "
                            + notJson.getMessage());
                }
            }
            out.add(call);
        }
        return out;
    }

    /** A JSON value as plain Java values (maps, lists, strings, numbers, booleans, null) for Jinja. */
    static Object plain(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (e.isJsonObject()) {
            Map<String, Object> m = new LinkedHashMap<>();
            e.getAsJsonObject().entrySet().forEach(x -> m.put(x.getKey(), plain(x.getValue())));
            return m;
        }
        if (e.isJsonArray()) {
            List<Object> l = new ArrayList<>();
            e.getAsJsonArray().forEach(x -> l.add(plain(x)));
            return l;
        }
        if (e.getAsJsonPrimitive().isBoolean()) {
            return e.getAsBoolean();
        }
        if (e.getAsJsonPrimitive().isNumber()) {
            Long exact = exactLong(e);
            return exact != null ? (Object) exact : (Object) e.getAsDouble();
        }
        return e.getAsString();
    }

    /** A message's content: a string, or a list of text parts. */
    private static String content(JsonElement c, String param) {
        if (c == null || c.isJsonNull()) {
            return "";
        }
        if (isString(c)) {
            return c.getAsString();
        }
        if (c.isJsonArray()) {
            StringBuilder b = new StringBuilder();
            for (JsonElement part : c.getAsJsonArray()) {
                if (!part.isJsonObject() || !"text".equals(optString(part.getAsJsonObject(), "type", param))
                        || !isString(part.getAsJsonObject().get("text"))) {
                    throw ApiError.invalid(param, "only text content parts {type: text, text} are supported");
                }
                b.append(part.getAsJsonObject().get("text").getAsString());
            }
            return b.toString();
        }
        throw ApiError.invalid(param, param + " must be a string or a list of text parts");
    }

    private static List<String> stop(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (isString(e)) {
            out.add(e.getAsString());
        } else if (e.isJsonArray()) {
            for (JsonElement s : e.getAsJsonArray()) {
                if (!isString(s)) {
                    throw ApiError.invalid("stop", "stop must be a string or a list of strings");
                }
                out.add(s.getAsString());
            }
        } else {
            throw ApiError.invalid("stop", "stop must be a string or a list of strings");
        }
        if (out.size() > 4) {
            throw ApiError.invalid("stop", "at most 4 stop sequences, got " + out.size());
        }
        for (String s : out) {
            if (s.isEmpty()) {
                throw ApiError.invalid("stop", "stop sequences must not be empty");
            }
        }
        return out;
    }

    private static Integer logprobs(JsonObject body, boolean chat) {
        if (!chat) {
            Integer lp = optInt(body, "logprobs");
            if (lp != null && (lp < 0 || lp > 5)) {
                throw ApiError.invalid("logprobs", "logprobs must be between 0 and 5, got " + lp);
            }
            return lp;
        }
        boolean on = optBoolean(body, "logprobs", false);
        Integer top = optInt(body, "top_logprobs");
        if (top != null && (top < 0 || top > 20)) {
            throw ApiError.invalid("top_logprobs", "top_logprobs must be between 0 and 20, got " + top);
        }
        if (top != null && !on) {
            throw ApiError.invalid("top_logprobs", "top_logprobs needs logprobs: true");
        }
        return on ? (top == null ? 0 : top) : null;
    }

    private static boolean isString(JsonElement e) {
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isString();
    }

    private static boolean isInteger(double d) {
        return d == Math.rint(d) && !Double.isInfinite(d);
    }

    static String optString(JsonObject o, String name) {
        return optString(o, name, name);
    }

    private static String optString(JsonObject o, String name, String param) {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!isString(e)) {
            throw ApiError.invalid(param, param + " must be a string, got " + e);
        }
        return e.getAsString();
    }

    private static double optNumber(JsonObject o, String name, double fallback) {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            return fallback;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw ApiError.invalid(name, name + " must be a number, got " + e);
        }
        return e.getAsDouble();
    }

    private static Integer optInt(JsonObject o, String name) {
        return optInt(o, name, name);
    }

    private static Integer optInt(JsonObject o, String name, String param) {
        Long v = optLong(o, name, param);
        if (v == null) {
            return null;
        }
        if (v > Integer.MAX_VALUE || v < Integer.MIN_VALUE) {
            throw ApiError.invalid(param, param + " is out of range: " + v);
        }
        return v.intValue();
    }

    private static Long optLong(JsonObject o, String name) {
        return optLong(o, name, name);
    }

    private static Long optLong(JsonObject o, String name, String param) {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        Long v = exactLong(e);
        if (v == null) {
            throw ApiError.invalid(param, param + " must be an integer in the signed 64-bit range, got " + e);
        }
        return v;
    }

    /**
     * The element as a whole number in the signed 64-bit range (its full range: a double would lose the last
     * digits of a seed), or null when it is not one.
     */
    static Long exactLong(JsonElement e) {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            return null;
        }
        // stripped first, so that neither 1e-999999999 nor 1e999999999 makes a huge intermediate value
        BigDecimal d = e.getAsJsonPrimitive().getAsBigDecimal().stripTrailingZeros();
        if (d.scale() > 0 || d.precision() - d.scale() > 19) {
            return null;
        }
        try {
            return d.longValueExact();
        } catch (ArithmeticException outOfRange) {
            return null;
        }
    }

    static boolean optBoolean(JsonObject o, String name, boolean fallback) {
        return optBoolean(o, name, name, fallback);
    }

    private static boolean optBoolean(JsonObject o, String name, String param, boolean fallback) {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            return fallback;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw ApiError.invalid(param, param + " must be true or false, got " + e);
        }
        return e.getAsBoolean();
    }
}
