package dev.osd.http;

import dev.osd.engine.LlamaConfig;
import dev.osd.engine.TextTokenizer;
import dev.osd.workload.ChatTemplate;
import java.util.List;

/**
 * How the API turns what a client sent into the target's prompt tokens: a completion's text, and a chat's
 * messages rendered in the served model's chat format. {@code /v1/completions}, {@code /v1/chat/completions}
 * and {@code /tokenize} share it, so that {@code /tokenize} counts exactly the tokens a completion would get.
 */
final class PromptEncoder {

    // the embedded models' assistant marker, the last thing of a rendered chat that awaits its answer
    private static final String ASSISTANT = "<|assistant|>";

    private final TextTokenizer tokenizer;
    private final LlamaConfig config;

    PromptEncoder(TextTokenizer tokenizer, LlamaConfig config) {
        this.tokenizer = tokenizer;
        this.config = config;
    }

    TextTokenizer tokenizer() {
        return tokenizer;
    }

    /** A completion's prompt text: its tokens after the model's BOS (when it has one). */
    int[] text(String text) {
        return withBos(tokenizer.encode(text));
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
    int[] chat(List<ChatTemplate.Message> messages, boolean addGenerationPrompt) {
        String rendered = ChatTemplate.render(messages);
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
