#!/usr/bin/env node
// Perplexity of a GGUF file in llama.cpp itself (the prebuilt library shipped with node-llama-cpp), with the
// protocol of `llama-perplexity -c N -b N` (see ../shared/data/README.md):
//   - the whole text is tokenized once by llama.cpp's tokenizer (no special-token parsing), with a leading BOS
//     when the vocabulary asks for one;
//   - it is cut into consecutive N-token chunks (the tail is dropped); each chunk starts from an empty KV cache
//     and its first token is replaced by BOS;
//   - only the second half of each chunk is scored: the logits at positions N/2 .. N-2 predict tokens N/2+1 .. N-1;
//   - log-softmax in double precision over the raw float logits, ppl = exp(mean negative log-likelihood).
// Prints one JSON object on stdout. Never builds or downloads llama.cpp: prebuilt binary only (no network here).
//
// usage: node perplexity.mjs MODEL.gguf TEXT [--ctx 512] [--chunks K] [--threads T]
//                            [--kv f16|f32] [--flash-attn auto|on|off] [--tokens-out FILE]
// Defaults are llama-perplexity's: F16 KV cache, flash attention "auto".
import {createHash} from "node:crypto";
import {readFileSync, writeFileSync, statSync} from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

function parseArgs(argv) {
    const options = {ctx: 512, chunks: 0, threads: 0, kv: "f16", flashAttn: "auto", tokensOut: null};
    const positionals = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
            return argv[++i];
        };
        if (a === "--ctx") options.ctx = Number.parseInt(value(), 10);
        else if (a === "--chunks") options.chunks = Number.parseInt(value(), 10);
        else if (a === "--threads") options.threads = Number.parseInt(value(), 10);
        else if (a === "--kv") options.kv = value();
        else if (a === "--flash-attn") options.flashAttn = value();
        else if (a === "--tokens-out") options.tokensOut = value();
        else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
        else positionals.push(a);
    }
    if (positionals.length !== 2) throw new Error("usage: perplexity.mjs MODEL.gguf TEXT [--ctx N] [--chunks K] [--threads T] [--kv f16|f32] [--flash-attn auto|on|off] [--tokens-out FILE]");
    if (!(options.ctx >= 4) || options.ctx % 2 !== 0) throw new Error("--ctx must be an even number >= 4");
    if (!["f16", "f32"].includes(options.kv)) throw new Error("--kv must be f16 or f32");
    if (!["auto", "on", "off"].includes(options.flashAttn)) throw new Error("--flash-attn must be auto, on or off");
    [options.model, options.text] = positionals;
    return options;
}

// llama.cpp's log-softmax of one position: max logit, sum of exp(l - max) in double, in token-id order.
function logProb(logits, token) {
    let max = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
    let sum = 0;
    for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
    return logits[token] - max - Math.log(sum);
}

async function main() {
    const o = parseArgs(process.argv.slice(2));
    // The text as llama-perplexity reads it (bytes, no normalisation); CRLF would change the tokens.
    const text = readFileSync(o.text, "utf8");

    const llama = await getLlama({
        gpu: false,             // CPU prebuilt: same kernels on every machine, nothing to probe
        build: "never",         // never compile llama.cpp (no network, no toolchain needed)
        skipDownload: true,     // never fetch llama.cpp sources
        usePrebuiltBinaries: true,
        progressLogs: false,
        logLevel: LlamaLogLevel.error,
        maxThreads: o.threads,
    });
    const model = await llama.loadModel({modelPath: o.model, gpuLayers: 0, useMmap: false});

    // Tokenize once, BOS in front (common_tokenize(..., add_special = true) in llama-perplexity).
    let tokens = Array.from(model.tokenize(text, false));
    const bos = model.tokens.bos;
    const addBos = model.tokens.shouldPrependBosToken && bos != null;
    if (addBos) tokens = [bos, ...tokens];
    if (o.tokensOut) writeFileSync(o.tokensOut, tokens.join("\n") + "\n");

    const n = o.ctx;
    let chunks = Math.floor(tokens.length / n);
    if (o.chunks > 0) chunks = Math.min(chunks, o.chunks);
    if (chunks < 1) throw new Error(`${o.text}: ${tokens.length} tokens, fewer than one chunk of ${n}`);

    const flashAttention = o.flashAttn === "auto" ? "auto" : o.flashAttn === "on";
    const context = await model.createContext({
        contextSize: n,
        batchSize: n,
        sequences: 1,
        flashAttention,
        threads: o.threads,
        experimentalKvCacheKeyType: o.kv.toUpperCase(),
        experimentalKvCacheValueType: o.kv.toUpperCase(),
    });
    if (context.contextSize < n) throw new Error(`llama.cpp made a context of ${context.contextSize} < ${n} tokens`);
    const sequence = context.getSequence();

    const first = n / 2;
    let nll = 0, nll2 = 0, count = 0;
    let logits = null;  // one position's logits by token id (the vocabulary size is the first map's)
    for (let c = 0; c < chunks; c++) {
        await sequence.clearHistory();
        const chunk = tokens.slice(c * n, (c + 1) * n);
        if (addBos) chunk[0] = bos;
        // Raw logits (the default sampler config is greedy: no temperature, penalty or filter touches them).
        const input = chunk.map((t, j) => (j >= first && j < n - 1) ? [t, {generateNext: {logits: true}}] : t);
        const out = await sequence.controlledEvaluate(input);
        for (let j = first; j < n - 1; j++) {
            const map = out[j]?.next?.logits;
            if (map == null) throw new Error(`no logits at chunk ${c} position ${j}`);
            logits ??= new Float64Array(map.size);
            if (map.size !== logits.length) throw new Error(`logits of ${map.size} tokens, then of ${logits.length}`);
            for (const [id, v] of map) logits[id] = v;
            const lp = logProb(logits, chunk[j + 1]);
            nll -= lp;
            nll2 += lp * lp;
            count++;
        }
    }
    const mean = nll / count;
    const variance = nll2 / count - mean * mean;
    const nllStderr = count > 1 ? Math.sqrt(Math.max(variance, 0) / (count - 1)) : 0;
    const ppl = Math.exp(mean);

    const sha = createHash("sha256").update(Buffer.from(Int32Array.from(tokens).buffer)).digest("hex");
    const result = {
        file: o.model,
        bytes: statSync(o.model).size,
        text: o.text,
        n_ctx: n,
        chunks,
        tokens_total: tokens.length,
        tokens_scored: count,
        ppl,
        ppl_stderr: ppl * nllStderr,
        mean_nll: mean,
        token_ids_sha256: sha,            // sha256 of the token ids as little-endian int32
        first_tokens: tokens.slice(0, 16),
        bos,
        kv_cache: o.kv,
        flash_attention: o.flashAttn,
        n_vocab: logits.length,
        llama_cpp_version: llama.llamaCppRelease,
        llama_build_type: llama.buildType,
        node_llama_cpp_version: JSON.parse(readFileSync(new URL("./node_modules/node-llama-cpp/package.json", import.meta.url), "utf8")).version,
    };
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch((e) => {
    process.stderr.write(`perplexity.mjs: ${e?.message ?? e}\n`);
    process.exit(1);
});
