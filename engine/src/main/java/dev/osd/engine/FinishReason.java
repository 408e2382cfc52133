package dev.osd.engine;

/** Why generation ended, in the OpenAI API's words. */
public enum FinishReason {
    /** The end-of-sequence token or a stop string. */
    STOP,
    /** max_tokens, or the end of the context. */
    LENGTH;

    public String apiName() {
        return name().toLowerCase();
    }
}
