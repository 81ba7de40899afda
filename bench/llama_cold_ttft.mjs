#!/usr/bin/env node
// llama.cpp's time to first token from a cold start, as `transformers bench` measures ours
// (cold_ttft_s): in a fresh process, load the GGUF (mmapped, as llama.cpp does by default), then
// evaluate one prompt of n-prompt token ids and pick the first token greedily. Nothing is warmed
// up first. bench/race_llama_cpp.py copies this file beside its node-llama-cpp install and runs it.
//
//   node llama_cold_ttft.mjs --model X.gguf [--n-prompt 128] [--threads 2] --json out.json
import {createRequire} from "node:module";
import {performance} from "node:perf_hooks";
import fs from "node:fs";
import path from "node:path";
import url from "node:url";

const folder = path.dirname(url.fileURLToPath(import.meta.url));
const requireHere = createRequire(path.join(folder, "node", "package.json"));
const {getLlama, LlamaLogLevel} = await import(url.pathToFileURL(requireHere.resolve("node-llama-cpp")).href);

const option = (name, fallback) => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
};
const modelPath = option("model");
const jsonPath = option("json");
if (!modelPath || !jsonPath) {
    console.error("usage: node llama_cold_ttft.mjs --model X.gguf [--n-prompt 128] [--threads 2] --json out.json");
    process.exit(2);
}
const nPrompt = Number(option("n-prompt", 128)), threads = Number(option("threads", 2));

const llama = await getLlama({gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
    progressLogs: false, logLevel: LlamaLogLevel.error, maxThreads: threads});
const start = performance.now();
const model = await llama.loadModel({modelPath, gpuLayers: 0, useMmap: true});
const context = await model.createContext({contextSize: Math.ceil((nPrompt + 16) / 256) * 256,
    batchSize: Math.max(nPrompt, 512), threads: {ideal: threads, min: threads}, sequences: 1});
const loaded = performance.now();
const sequence = context.getSequence();
const vocabSize = model.fileInfo?.metadata?.tokenizer?.ggml?.tokens?.length ?? 32000;
// Token ids spread over the vocabulary (a fixed stride, away from the special tokens at the start).
const prompt = Array.from({length: nPrompt}, (_, i) => 300 + ((i * 7919) % (vocabSize - 300)));
let firstToken = null;
for await (const token of sequence.evaluate(prompt, {temperature: 0})) {
    firstToken = token;
    break;
}
const done = performance.now();
const result = {model: path.basename(modelPath), n_prompt: nPrompt, threads, load_s: (loaded - start) / 1000,
    prompt_s: (done - loaded) / 1000, cold_ttft_s: (done - start) / 1000, first_token: firstToken};
fs.writeFileSync(jsonPath, JSON.stringify(result, null, 1));
console.log(`llama.cpp cold start: load ${result.load_s.toFixed(3)} s, first token ${result.cold_ttft_s.toFixed(3)} s`);
await context.dispose();
await model.dispose();
await llama.dispose();
