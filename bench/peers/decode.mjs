// Greedy decoding with llama.cpp (node-llama-cpp's prebuilt CPU binary, nothing built from source), driven
// by ./osd bench peers: one request per stdin line, one JSON line back per request.
//
//   node decode.mjs --modules DIR/node_modules --model FILE.gguf [--threads 1] [--context 256]
//   stdin : {"id": "p0", "prompt": [1, 52, 9, ...], "tokens": 128}
//   stdout: {"ready": true, ...} once, then {"id": "p0", "tokens": [...], "ttft_ms": ..., "tpot_ms": ...}
//
// Token ids go in and come out, so llama.cpp's tokenizer never decides what is compared. No speculation,
// no repeat penalty; temperature 0 is llama.cpp's greedy sampler. EOS does not stop decoding: both engines
// produce exactly `tokens` tokens, so their times cover the same work.
import { createInterface } from "node:readline";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";

function option(name, fallback) {
    const i = process.argv.indexOf(name);
    if (i < 0) {
        if (fallback === undefined) {
            throw new Error(`missing ${name}`);
        }
        return fallback;
    }
    return process.argv[i + 1];
}

const modules = option("--modules");
const modelPath = option("--model");
const threads = Number(option("--threads", "1"));
const contextSize = Number(option("--context", "256"));

// the package lives in a cache folder outside the sources, so it is imported by path
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(join(modules, "node-llama-cpp", "dist", "index.js")).href);

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false,
    maxThreads: threads });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({ contextSize, batchSize: contextSize, sequences: 1,
    threads: { ideal: threads, min: threads }, flashAttention: false });
const sequence = context.getSequence();

function send(object) {
    process.stdout.write(JSON.stringify(object) + "\n");
}

send({ ready: true, build: llama.buildType, release: `${llama.llamaCppRelease.repo} ${llama.llamaCppRelease.release}`,
    system: llama.systemInfo, node: process.version, gpu: llama.gpu,
    threads: context.currentThreads, context: context.contextSize, model: modelPath });

async function decode(prompt, count) {
    await sequence.clearHistory();
    const tokens = [];
    const start = performance.now();
    let first = start;
    let last = start;
    const generator = sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true });
    for await (const token of generator) {
        last = performance.now();
        if (tokens.length === 0) {
            first = last;
        }
        tokens.push(token);
        if (tokens.length >= count) {
            break;
        }
    }
    return {
        tokens,
        ttft_ms: first - start,
        tpot_ms: tokens.length > 1 ? (last - first) / (tokens.length - 1) : 0,
    };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
    if (line.trim() === "") {
        continue;
    }
    let request;
    try {
        request = JSON.parse(line);
        if (!Array.isArray(request.prompt) || request.prompt.length === 0 || !(request.tokens >= 1)) {
            throw new Error("needs a non-empty prompt array and tokens >= 1");
        }
        if (request.prompt.length + request.tokens > context.contextSize) {
            throw new Error(`prompt ${request.prompt.length} + ${request.tokens} tokens exceed the context of `
                + context.contextSize);
        }
        send({ id: request.id, ...(await decode(request.prompt, request.tokens)) });
    } catch (e) {
        send({ id: request?.id ?? null, error: String(e?.message ?? e) });
    }
}
await context.dispose();
await model.dispose();
await llama.dispose();
