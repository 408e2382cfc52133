package dev.osd.app;

import dev.osd.engine.LlamaConfig;
import dev.osd.engine.TextTokenizer;

/** Turns prompt text into the token ids a model expects: its BOS, then the text's tokens. */
final class Prompts {

    private Prompts() {
    }

    static int[] encode(TextTokenizer tokenizer, LlamaConfig config, String text) {
        int[] body = tokenizer.encode(text);
        if (config.bosTokenId() < 0) {
            if (body.length == 0) {
                throw new IllegalArgumentException("empty prompt and the model has no BOS token");
            }
            return body;
        }
        int[] ids = new int[body.length + 1];
        ids[0] = config.bosTokenId();
        System.arraycopy(body, 0, ids, 1, body.length);
        return ids;
    }
}
