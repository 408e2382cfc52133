package dev.osd.workload;

import java.util.List;

/**
 * The embedded models' chat template: each message as a role marker and its content, then the assistant's
 * marker to be continued. Role markers are the tokenizer's special tokens {@code <|user|>} and
 * {@code <|assistant|>}; a system message is written as plain text first.
 */
public final class ChatTemplate {

    /** One chat message. */
    public record Message(String role, String content) {
    }

    private ChatTemplate() {
    }

    public static String render(List<Message> messages) {
        StringBuilder b = new StringBuilder();
        for (Message m : messages) {
            switch (m.role()) {
                case "system" -> b.append(m.content()).append('\n');
                case "user" -> b.append("<|user|>").append(m.content()).append('\n');
                case "assistant" -> b.append("<|assistant|>").append(m.content()).append('\n');
                default -> throw new IllegalArgumentException("unknown chat role '" + m.role()
                        + "' (system, user or assistant)");
            }
        }
        return b.append("<|assistant|>").toString();
    }
}
