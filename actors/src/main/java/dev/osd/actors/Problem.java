package dev.osd.actors;

/**
 * Why a request could not be served, or ended before its stop condition: a type, not a message prefix, so the
 * HTTP layer maps each kind to a status and OpenAI's error object in one place and metrics count each kind.
 * Every problem carries a message for people; nothing matches on it.
 */
public sealed interface Problem {

    String message();

    /** The label this kind has in metrics ({@code outcome}). */
    String kind();

    /** Every slot is taken now; the same request may succeed shortly. */
    record Overloaded(String message) implements Problem {
        @Override
        public String kind() {
            return "overloaded";
        }
    }

    /** Nothing can serve the request now: no target is reachable, the node is draining, or it has no gateway. */
    record Unavailable(String message) implements Problem {
        @Override
        public String kind() {
            return "unavailable";
        }
    }

    /** The request itself is wrong. @param param the field at fault (OpenAI's {@code param}), or null */
    record InvalidInput(String param, String message) implements Problem {
        @Override
        public String kind() {
            return "invalid";
        }
    }

    /** Prompt and completion do not fit the model's context. @param param the field at fault, or null */
    record ContextExhausted(String param, String message) implements Problem {
        @Override
        public String kind() {
            return "context_exhausted";
        }
    }

    /** The request's deadline passed; it ended with what it had. */
    record DeadlinePassed(String message) implements Problem {
        @Override
        public String kind() {
            return "deadline";
        }
    }

    /** The client went away (or cancelled); the request ended with what it had. */
    record Cancelled(String message) implements Problem {
        @Override
        public String kind() {
            return "cancelled";
        }
    }

    /** The server's own fault (a model or actor failed). */
    record Internal(String message) implements Problem {
        @Override
        public String kind() {
            return "internal";
        }
    }
}
