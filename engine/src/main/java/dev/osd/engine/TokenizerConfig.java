package dev.osd.engine;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * What a checkpoint's {@code tokenizer_config.json} says beside its {@code tokenizer.json}: the special
 * tokens, whether an encoded prompt gets a BOS (or EOS) and the Jinja {@code chat_template}. Where the
 * config does not say {@code add_bos_token}, the tokenizer.json's post-processor decides, as it does in
 * transformers' fast tokenizers.
 *
 * @param bosToken beginning-of-sequence token text, or null
 * @param bosTokenId its id, or -1
 * @param eosToken end-of-sequence token text, or null (for chat models, the end of a turn)
 * @param eosTokenId its id, or -1
 * @param unkToken unknown token text, or null
 * @param padToken padding token text, or null
 * @param addBosToken whether a plain (non-chat) prompt starts with the BOS token
 * @param addEosToken whether a plain prompt ends with the EOS token
 * @param chatTemplate the Jinja chat template ({@code chat_template.jinja} beside the config wins, as in
 *        transformers), or null when the checkpoint has none
 * @param file the tokenizer_config.json (it may be absent)
 */
public record TokenizerConfig(
        String bosToken,
        int bosTokenId,
        String eosToken,
        int eosTokenId,
        String unkToken,
        String padToken,
        boolean addBosToken,
        boolean addEosToken,
        String chatTemplate,
        Path file) {

    public static final String FILE_NAME = "tokenizer_config.json";
    public static final String TEMPLATE_FILE = "chat_template.jinja";

    /**
     * Tokens of a plain prompt (a completion's): the text's tokens, with BOS first and EOS last when this
     * config says so.
     */
    public int[] encodePrompt(TextTokenizer tokenizer, String text) {
        int[] body = tokenizer.encode(text);
        boolean bos = addBosToken && bosTokenId >= 0;
        boolean eos = addEosToken && eosTokenId >= 0;
        int[] ids = new int[body.length + (bos ? 1 : 0) + (eos ? 1 : 0)];
        System.arraycopy(body, 0, ids, bos ? 1 : 0, body.length);
        if (bos) {
            ids[0] = bosTokenId;
        }
        if (eos) {
            ids[ids.length - 1] = eosTokenId;
        }
        return ids;
    }

    /**
     * Tokens of a chat rendered by its template: nothing is added, because the template writes the special
     * tokens it wants (transformers' {@code apply_chat_template} encodes with {@code add_special_tokens=False}).
     */
    public int[] encodeChat(TextTokenizer tokenizer, String rendered) {
        return tokenizer.encode(rendered);
    }

    /** The checkpoint's chat template, or null when it has none. */
    public ChatTemplate template() {
        return chatTemplate == null ? null : new ChatTemplate(chatTemplate, bosToken, eosToken, templateSource());
    }

    private Path templateSource() {
        Path jinja = file.resolveSibling(TEMPLATE_FILE);
        return Files.isRegularFile(jinja) ? jinja : file;
    }

    /**
     * Reads {@code dir/tokenizer_config.json} (and {@code chat_template.jinja} when present) against
     * {@code dir/tokenizer.json}. A missing config file gives no special tokens beyond what tokenizer.json's
     * post-processor adds and no chat template. A special token that tokenizer.json does not know, or a
     * malformed field, is refused naming the file and the field.
     */
    public static TokenizerConfig read(Path dir) {
        Path file = dir.resolve(FILE_NAME);
        Path tokenizerFile = dir.resolve(TextTokenizer.FILE_NAME);
        JsonObject tokenizer = parse(tokenizerFile);
        JsonObject config = Files.isRegularFile(file) ? parse(file) : new JsonObject();
        Map<String, Integer> ids = tokenIds(tokenizer, tokenizerFile);

        String bos = token(config, "bos_token", file);
        String eos = token(config, "eos_token", file);
        String unk = token(config, "unk_token", file);
        String pad = token(config, "pad_token", file);
        int bosId = idOf(bos, "bos_token", ids, file);
        int eosId = idOf(eos, "eos_token", ids, file);
        idOf(unk, "unk_token", ids, file);
        idOf(pad, "pad_token", ids, file);

        PostProcessor post = postProcessor(tokenizer, tokenizerFile);
        boolean addBos = optBoolean(config, "add_bos_token", file, post.addsFirst && (bos == null || bos.equals(post.first)));
        boolean addEos = optBoolean(config, "add_eos_token", file, post.addsLast && eos != null && eos.equals(post.last));
        if (bos == null && post.addsFirst && !config.has("add_bos_token")) {
            // no bos_token in the config: the post-processor's first token is the BOS it adds
            bos = post.first;
            bosId = idOf(bos, "post_processor", ids, tokenizerFile);
        }
        if (addBos && bosId < 0) {
            throw new CheckpointException(file, "add_bos_token", "is true but no bos_token is named");
        }
        if (addEos && eosId < 0) {
            throw new CheckpointException(file, "add_eos_token", "is true but no eos_token is named");
        }
        String template = chatTemplate(config, file);
        TokenizerConfig result = new TokenizerConfig(bos, bosId, eos, eosId, unk, pad, addBos, addEos, template, file);
        if (template != null) {
            result.template().check(); // a template that does not parse is refused at load, not at the first chat
        }
        return result;
    }

    private static String chatTemplate(JsonObject config, Path file) {
        Path jinja = file.resolveSibling(TEMPLATE_FILE);
        if (Files.isRegularFile(jinja)) {
            try {
                return Files.readString(jinja, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new CheckpointException(jinja, null, "cannot be read (" + e.getMessage() + ")", e);
            }
        }
        JsonElement e = config.get("chat_template");
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
            return e.getAsString();
        }
        if (e.isJsonArray()) {
            // several named templates: a chat without tools uses the one named "default"
            for (JsonElement named : e.getAsJsonArray()) {
                if (named.isJsonObject() && named.getAsJsonObject().has("name")
                        && named.getAsJsonObject().get("name").getAsString().equals("default")) {
                    JsonElement t = named.getAsJsonObject().get("template");
                    if (t != null && t.isJsonPrimitive()) {
                        return t.getAsString();
                    }
                }
            }
            throw new CheckpointException(file, "chat_template", "lists templates but none named 'default' with a template");
        }
        throw new CheckpointException(file, "chat_template", "must be a string or a list of {name, template}, was " + e);
    }

    /** A token field: a string, an AddedToken object with "content", or null. */
    private static String token(JsonObject config, String field, Path file) {
        JsonElement e = config.get(field);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
            return e.getAsString();
        }
        if (e.isJsonObject() && e.getAsJsonObject().has("content")
                && e.getAsJsonObject().get("content").isJsonPrimitive()) {
            return e.getAsJsonObject().get("content").getAsString();
        }
        throw new CheckpointException(file, field, "must be a token string or an object with its content, was " + e);
    }

    private static int idOf(String token, String field, Map<String, Integer> ids, Path file) {
        if (token == null) {
            return -1;
        }
        Integer id = ids.get(token);
        if (id == null) {
            throw new CheckpointException(file, field, "'" + token + "' is not a token of " + TextTokenizer.FILE_NAME);
        }
        return id;
    }

    private static boolean optBoolean(JsonObject config, String field, Path file, boolean fallback) {
        JsonElement e = config.get(field);
        if (e == null || e.isJsonNull()) {
            return fallback;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new CheckpointException(file, field, "must be true or false, was " + e);
        }
        return e.getAsBoolean();
    }

    /** Added tokens, then the model's vocabulary (a BPE vocabulary is an object from token to id). */
    private static Map<String, Integer> tokenIds(JsonObject tokenizer, Path file) {
        Map<String, Integer> ids = new HashMap<>();
        JsonElement model = tokenizer.get("model");
        if (model != null && model.isJsonObject() && model.getAsJsonObject().get("vocab") instanceof JsonObject vocab) {
            for (Map.Entry<String, JsonElement> e : vocab.entrySet()) {
                if (e.getValue().isJsonPrimitive()) {
                    ids.put(e.getKey(), e.getValue().getAsInt());
                }
            }
        }
        JsonElement added = tokenizer.get("added_tokens");
        if (added != null && added.isJsonArray()) {
            for (JsonElement t : added.getAsJsonArray()) {
                if (!t.isJsonObject() || !t.getAsJsonObject().has("content") || !t.getAsJsonObject().has("id")) {
                    throw new CheckpointException(file, "added_tokens", "an entry lacks content or id: " + t);
                }
                ids.put(t.getAsJsonObject().get("content").getAsString(), t.getAsJsonObject().get("id").getAsInt());
            }
        }
        return ids;
    }

    /** The special tokens tokenizer.json's TemplateProcessing puts around a single sequence. */
    private record PostProcessor(boolean addsFirst, String first, boolean addsLast, String last) {
    }

    private static PostProcessor postProcessor(JsonObject tokenizer, Path file) {
        JsonObject template = findTemplateProcessing(tokenizer.get("post_processor"));
        if (template == null || !(template.get("single") instanceof JsonArray single) || single.isEmpty()) {
            return new PostProcessor(false, null, false, null);
        }
        String first = specialToken(single.get(0));
        String last = single.size() > 1 ? specialToken(single.get(single.size() - 1)) : null;
        return new PostProcessor(first != null, first, last != null, last);
    }

    private static JsonObject findTemplateProcessing(JsonElement processor) {
        if (processor == null || !processor.isJsonObject()) {
            return null;
        }
        JsonObject o = processor.getAsJsonObject();
        String type = o.has("type") ? o.get("type").getAsString() : "";
        if (type.equals("TemplateProcessing")) {
            return o;
        }
        if (type.equals("Sequence") && o.get("processors") != null && o.get("processors").isJsonArray()) {
            for (JsonElement p : o.getAsJsonArray("processors")) {
                JsonObject found = findTemplateProcessing(p);
                if (found != null) {
                    return found;
                }
            }
        }
        return null;
    }

    private static String specialToken(JsonElement piece) {
        if (piece.isJsonObject() && piece.getAsJsonObject().get("SpecialToken") instanceof JsonObject special
                && special.has("id")) {
            return special.get("id").getAsString();
        }
        return null;
    }

    private static JsonObject parse(Path file) {
        try {
            return JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot be read (" + e.getMessage() + ")", e);
        } catch (JsonParseException | IllegalStateException e) {
            throw new CheckpointException(file, null, "is not a JSON object (" + e.getMessage() + ")", e);
        }
    }
}
