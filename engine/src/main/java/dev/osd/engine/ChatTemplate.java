package dev.osd.engine;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A checkpoint's Jinja {@code chat_template}, rendered through Jinjava as transformers renders it with
 * Jinja2: blocks trimmed and left-stripped, {@code messages}, {@code add_generation_prompt},
 * {@code bos_token} and {@code eos_token} defined, {@code raise_exception(msg)} ending the render with
 * the template's own message, {@code strftime_now(fmt)}, and {@code tojson} writing JSON as Python's
 * {@code json.dumps(..., ensure_ascii=False)} does.
 *
 * <p>This is the entry point for chat completions: {@code render(messages, true)} gives the prompt text,
 * {@link TokenizerConfig#encodeChat} its tokens.
 */
public final class ChatTemplate {

    /** One message in the OpenAI shape ({@code role}, {@code content}); other fields ride in a map. */
    public record Message(String role, String content) {
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("role", role);
            m.put("content", content);
            return m;
        }
    }

    /**
     * The template refused the conversation (its {@code raise_exception}, e.g. "roles must alternate"),
     * or failed on it: a client's fault, to be answered with 400 naming {@code messages}.
     */
    public static final class Refused extends RuntimeException {
        Refused(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Thrown by raise_exception, to be told apart from the template's other errors. */
    private static final class Raised extends RuntimeException {
        Raised(String message) {
            super(message);
        }
    }

    private static final Jinjava JINJA = jinjava();

    private final String source;
    private final String bosToken;
    private final String eosToken;
    private final Path file;

    /**
     * @param source the template text
     * @param bosToken the value of {@code bos_token} (null: empty, as Jinja2 renders an undefined name)
     * @param eosToken the value of {@code eos_token}
     * @param file where the template came from, for refusals
     */
    public ChatTemplate(String source, String bosToken, String eosToken, Path file) {
        this.source = source;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.file = file;
    }

    public String source() {
        return source;
    }

    /** Renders messages, as {@code tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)}. */
    public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /** Renders role/content messages. */
    public String renderMessages(List<Message> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> maps = new ArrayList<>();
        for (Message m : messages) {
            maps.add(m.toMap());
        }
        return render(maps, addGenerationPrompt);
    }

    /**
     * Renders with further template variables (e.g. {@code tools}, {@code documents}, {@code date_string}),
     * as apply_chat_template passes its keyword arguments.
     */
    public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, Map<String, ?> variables) {
        Map<String, Object> context = new HashMap<>(variables);
        context.put("messages", messages);
        context.put("add_generation_prompt", addGenerationPrompt);
        if (bosToken != null) {
            context.put("bos_token", bosToken);
        }
        if (eosToken != null) {
            context.put("eos_token", eosToken);
        }
        RenderResult result = JINJA.renderForResult(source, context);
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() != TemplateError.ErrorType.FATAL) {
                continue;
            }
            for (Throwable t = e.getException(); t != null; t = t.getCause()) {
                if (t instanceof Raised raised) {
                    throw new Refused(raised.getMessage(), raised);
                }
            }
            throw new Refused("the chat template of " + file + " failed on these messages at line "
                    + e.getLineno() + ": " + e.getMessage(), e.getException());
        }
        return result.getOutput();
    }

    /** Refuses, at load, a template that does not parse (checked on a one-message conversation). */
    void check() {
        RenderResult result = JINJA.renderForResult(source, Map.of(
                "messages", List.of(new Message("user", "hello").toMap()), "add_generation_prompt", true,
                "bos_token", bosToken == null ? "" : bosToken, "eos_token", eosToken == null ? "" : eosToken));
        for (TemplateError e : result.getErrors()) {
            boolean raised = false;
            for (Throwable t = e.getException(); t != null; t = t.getCause()) {
                raised |= t instanceof Raised;
            }
            if (e.getSeverity() == TemplateError.ErrorType.FATAL && !raised
                    && e.getReason() == TemplateError.ErrorReason.SYNTAX_ERROR) {
                throw new CheckpointException(file, "chat_template", "is not a valid Jinja template (line "
                        + e.getLineno() + ": " + e.getMessage() + ")", e.getException());
            }
        }
    }

    private static Jinjava jinjava() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // Jinja2's semantics where Jinjava's defaults differ: {{- -}} trims, `a + b | f` filters b,
                // dict keys are expressions, `for k in dict` iterates keys, lists print as Python's
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withUsePyishObjectMapper(true)
                        .withAllowAdjacentTextNodes(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .withMaxOutputSize(64L << 20)
                .build();
        Jinjava jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now",
                ChatTemplate.class, "strftimeNow", String.class));
        jinjava.getGlobalContext().registerFilter(new PythonJsonFilter());
        return jinjava;
    }

    /** The template's {@code raise_exception(message)}. */
    public static Object raiseException(String message) {
        throw new Raised(message);
    }

    /** The template's {@code strftime_now(format)}: the local time in Python's strftime codes. */
    public static String strftimeNow(String format) {
        return strftime(LocalDateTime.now(), format);
    }

    static String strftime(LocalDateTime t, String format) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                b.append(c);
                continue;
            }
            char code = format.charAt(++i);
            switch (code) {
                case 'd' -> b.append(String.format("%02d", t.getDayOfMonth()));
                case 'm' -> b.append(String.format("%02d", t.getMonthValue()));
                case 'Y' -> b.append(t.getYear());
                case 'y' -> b.append(String.format("%02d", t.getYear() % 100));
                case 'H' -> b.append(String.format("%02d", t.getHour()));
                case 'M' -> b.append(String.format("%02d", t.getMinute()));
                case 'S' -> b.append(String.format("%02d", t.getSecond()));
                case 'b' -> b.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> b.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'j' -> b.append(String.format("%03d", t.getDayOfYear()));
                case 'p' -> b.append(t.getHour() < 12 ? "AM" : "PM");
                case 'I' -> b.append(String.format("%02d", (t.getHour() + 11) % 12 + 1));
                case 'F' -> b.append(t.format(DateTimeFormatter.ISO_LOCAL_DATE));
                case '%' -> b.append('%');
                default -> b.append('%').append(code);
            }
        }
        return b.toString();
    }

    /**
     * {@code tojson} as transformers defines it for chat templates: Python's json.dumps with
     * ensure_ascii=False, separators ", " and ": ", and the optional indent.
     */
    private static final class PythonJsonFilter implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            Integer indent = args.length > 0 && args[0] != null ? Integer.valueOf(args[0]) : null;
            return json(var, indent);
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
            return json(var, indent == null ? null : ((Number) indent).intValue());
        }
    }

    static String json(Object value, Integer indent) {
        StringBuilder b = new StringBuilder();
        writeJson(b, value, indent, 0);
        return b.toString();
    }

    private static void writeJson(StringBuilder b, Object v, Integer indent, int depth) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof Boolean) {
            b.append(((Boolean) v) ? "true" : "false");
        } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof BigInteger) {
            b.append(v);
        } else if (v instanceof Number n) {
            double d = n instanceof BigDecimal bd ? bd.doubleValue() : n.doubleValue();
            b.append(pythonFloat(d));
        } else if (v instanceof Map<?, ?> map) {
            if (map.isEmpty()) {
                b.append("{}");
                return;
            }
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                b.append(first ? "" : indent == null ? ", " : ",");
                newline(b, indent, depth + 1);
                quote(b, String.valueOf(e.getKey()));
                b.append(": ");
                writeJson(b, e.getValue(), indent, depth + 1);
                first = false;
            }
            newline(b, indent, depth);
            b.append('}');
        } else if (v instanceof Iterable<?> list) {
            if (!list.iterator().hasNext()) {
                b.append("[]");
                return;
            }
            b.append('[');
            boolean first = true;
            for (Object item : list) {
                b.append(first ? "" : indent == null ? ", " : ",");
                newline(b, indent, depth + 1);
                writeJson(b, item, indent, depth + 1);
                first = false;
            }
            newline(b, indent, depth);
            b.append(']');
        } else if (v instanceof Object[] array) {
            writeJson(b, List.of(array), indent, depth);
        } else {
            quote(b, v.toString());
        }
    }

    private static void newline(StringBuilder b, Integer indent, int depth) {
        if (indent != null) {
            b.append('\n').append(" ".repeat(indent * depth));
        }
    }

    /** Python's repr of a float: 1.0, 0.5, 1e-05, inf. */
    private static String pythonFloat(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        if (d == 0) {
            return 1 / d < 0 ? "-0.0" : "0.0";
        }
        BigDecimal shortest = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        int exponent = shortest.precision() - shortest.scale() - 1;
        if (exponent >= -4 && exponent < 16) {
            String plain = shortest.toPlainString();
            return plain.contains(".") ? plain : plain + ".0";
        }
        String digits = shortest.unscaledValue().abs().toString();
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return (d < 0 ? "-" : "") + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
    }

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
