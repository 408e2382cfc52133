package dev.osd.http;

import dev.osd.engine.TextTokenizer;
import java.util.Arrays;
import java.util.List;

/**
 * Turns a choice's streamed tokens into text deltas: decodes what has come so far and sends only text that
 * can no longer change, holding back an incomplete UTF-8 character and any tail that could still grow into a
 * stop string; text from a stop string on is never sent. The final delta comes from the finished result.
 */
final class TextStream {

    private final TextTokenizer tokenizer;
    private final List<String> stop;
    private int[] tokens = new int[0];
    private int sent;
    private boolean stopped;

    TextStream(TextTokenizer tokenizer, List<String> stop) {
        this.tokenizer = tokenizer;
        this.stop = stop;
    }

    /** The new text these tokens make safe to send ("" when none). */
    String append(int[] more) {
        int old = tokens.length;
        tokens = Arrays.copyOf(tokens, old + more.length);
        System.arraycopy(more, 0, tokens, old, more.length);
        if (stopped) {
            return "";
        }
        String text = tokenizer.decode(tokens);
        int safe = text.length();
        for (String s : stop) {
            int at = text.indexOf(s);
            if (at >= 0 && at < safe) {
                safe = at;
                stopped = true;
            }
        }
        if (!stopped) {
            // an incomplete multi-byte character decodes as U+FFFD until its last byte comes
            while (safe > 0 && text.charAt(safe - 1) == '\uFFFD') {
                safe--;
            }
            for (String s : stop) {
                for (int len = Math.min(s.length() - 1, safe); len > 0; len--) {
                    if (text.regionMatches(safe - len, s, 0, len)) {
                        safe -= len;
                        break;
                    }
                }
            }
        }
        if (safe <= sent) {
            return "";
        }
        String delta = text.substring(sent, safe);
        sent = safe;
        return delta;
    }

    /** What is left to send of the choice's final text. */
    String finish(String finalText) {
        if (finalText == null || finalText.length() <= sent) {
            return "";
        }
        String delta = finalText.substring(sent);
        sent = finalText.length();
        return delta;
    }
}
