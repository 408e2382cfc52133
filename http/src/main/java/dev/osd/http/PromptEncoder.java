package dev.osd.http;

import dev.osd.engine.ChatTemplate;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.TextTokenizer;
import dev.osd.engine.TokenizerConfig;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How the API turns what a client sent into the target's prompt tokens: a completion's text (BOS and EOS as the
 * checkpoint's {@code tokenizer_config.json} says), and a chat's messages rendered by the checkpoint's Jinja
 * {@code chat_template}. A checkpoint without them (the embedded models) keeps the embedded format: BOS from
 * {@code config.json}, chats in {@code <|user|>…<|assistant|>} ({@link dev.osd.workload.ChatTemplate}).
 * {@code /v1/completions}, {@code /v1/chat/completions} and {@code /tokenize} share it, so that
 * {@code /tokenize} counts exactly the tokens a completion gets.
 */
final class PromptEncoder {

    // the embedded models' assistant marker, the last thing of a rendered chat that awaits its answer
    private static final String ASSISTANT = "<|assistant|>";

    private final TextTokenizer tokenizer;
    private final LlamaConfig config;
    private final TokenizerConfig tokenizerConfig;
    private final ChatTemplate template;

    /** @param tokenizerConfig the checkpoint's tokenizer configuration, or null (the embedded format) */
    PromptEncoder(TextTokenizer tokenizer, LlamaConfig config, TokenizerConfig tokenizerConfig) {
        this.tokenizer = tokenizer;
        this.config = config;
        // a directory without tokenizer_config.json says nothing about BOS: the embedded way holds
        this.tokenizerConfig = tokenizerConfig != null && Files.isRegularFile(tokenizerConfig.file())
                ? tokenizerConfig : null;
        this.template = tokenizerConfig == null ? null : tokenizerConfig.template();
    }

    TextTokenizer tokenizer() {
        return tokenizer;
    }

    /** Whether chats are rendered by the checkpoint's own template. */
    boolean hasChatTemplate() {
        return template != null;
    }

    /** A completion's prompt text: its tokens with the special tokens a plain prompt gets. */
    int[] text(String text) {
        return tokenizerConfig != null ? tokenizerConfig.encodePrompt(tokenizer, text)
                : withBos(tokenizer.encode(text));
    }

    /** A text's tokens alone, without any special token. */
    int[] plain(String text) {
        return tokenizer.encode(text);
    }

    /**
     * A conversation's prompt tokens, as a chat completion feeds them to the target.
     *
     * @param addGenerationPrompt end with the assistant's turn opened (what a chat completion continues)
     */
    int[] chat(List<CompletionParams.Message> messages, boolean addGenerationPrompt) {
        if (template != null) {
            List<Map<String, Object>> maps = new ArrayList<>();
            messages.forEach(m -> maps.add(m.fields()));
            String rendered;
            try {
                rendered = template.render(maps, addGenerationPrompt);
            } catch (ChatTemplate.Refused e) {
                throw ApiError.invalid("messages", "the model's chat template refused these messages: "
                        + e.getMessage());
            }
            return tokenizerConfig != null ? tokenizerConfig.encodeChat(tokenizer, rendered) : tokenizer.encode(rendered);
        }
        // the embedded format's class shares its simple name with the engine's Jinja template
        List<dev.osd.workload.ChatTemplate.Message> plain = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            CompletionParams.Message m = messages.get(i);
            if (m.role().equals("tool") || m.fields().containsKey("tool_calls")) {
                throw ApiError.invalid("messages[" + i + "]" + (m.role().equals("tool") ? ".role" : ".tool_calls"),
                        "tool messages need a chat template that renders them; this model has none "
                                + "(tokenizer_config.json without chat_template)");
            }
            plain.add(new dev.osd.workload.ChatTemplate.Message(m.role(), m.content()));
        }
        String rendered = dev.osd.workload.ChatTemplate.render(plain);
        if (!addGenerationPrompt) {
            rendered = rendered.substring(0, rendered.length() - ASSISTANT.length());
        }
        return withBos(tokenizer.encode(rendered));
    }

    private int[] withBos(int[] body) {
        if (config.bosTokenId() < 0) {
            return body;
        }
        int[] ids = new int[body.length + 1];
        ids[0] = config.bosTokenId();
        System.arraycopy(body, 0, ids, 1, body.length);
        return ids;
    }
}
