// llama.cpp (node-llama-cpp's prebuilt CPU binaries) as the reference for GGUF files:
//   node llama_cpp_run.mjs MODEL.gguf generate '[[ids...], ...]' N   -> [[N greedy ids], ...]
//   node llama_cpp_run.mjs MODEL.gguf tokenize TEXTS.json            -> [[ids], ...] (special tokens parsed)
// Each row is generated from an empty cache, greedily (temperature 0).
import fs from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [, , modelPath, mode, arg, count] = process.argv;
const llama = await getLlama({gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
    progressLogs: false, logLevel: LlamaLogLevel.error, maxThreads: 2});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
if (mode === "tokenize") {
    const texts = JSON.parse(fs.readFileSync(arg, "utf8"));
    console.log(JSON.stringify(texts.map((text) => Array.from(model.tokenize(text, true)))));
} else {
    const rows = JSON.parse(arg), n = Number(count), out = [];
    const context = await model.createContext({contextSize: 256, sequences: 1, threads: {ideal: 2, min: 1}});
    const sequence = context.getSequence();
    for (const row of rows) {
        await sequence.clearHistory();
        const generated = [];
        for await (const token of sequence.evaluate(row, {temperature: 0})) {
            generated.push(token);
            if (generated.length >= n) break;
        }
        out.push(generated);
    }
    console.log(JSON.stringify(out));
    await context.dispose();
}
await model.dispose();
await llama.dispose();
