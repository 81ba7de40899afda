#!/usr/bin/env python3
"""Load figures for `transformers serve` (not a test): time to first token and decode tokens/s of
one streamed chat completion, then of N concurrent streams, plus plain requests/s on /health.

    bench/serve_load.py MODEL_FOLDER [--streams 8] [--max-tokens 64] [--system-tokens N] [--dtype D]
                        [--bin build/release/cli/transformers]

Starts the server on a free loopback port, prints one line per figure, stops the server. With
--system-tokens N every request starts with the same system prompt of about N tokens, and the
prefix-cache hit rate (prompt tokens whose prefill was skipped, from /health's engine counters) is
printed for the concurrent phase. bench/serve_qwen_shape.sh runs it on a Qwen2.5-0.5B-shaped model."""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stream_chat(port, prompt, max_tokens, system=None, chunk_times=None):
    """Streams one greedy chat completion; returns (seconds to the first content token, total seconds, tokens).
    chunk_times, when given, gets the perf_counter() time of every content chunk."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}}
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    first, tokens = None, 0
    for raw in resp:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        elif chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            now = time.perf_counter()
            if first is None:
                first = now - start
            if chunk_times is not None:
                chunk_times.append(now)
    conn.close()
    return first or 0.0, time.perf_counter() - start, tokens


def engine_counters(port):
    """The engine's counters from /health (prompt_tokens, cached_prompt_tokens, ...)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/health")
    body = json.loads(conn.getresponse().read())
    conn.close()
    return body.get("engine", {})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--system-tokens", type=int, default=0, help="a shared system prompt of about this many tokens")
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "cli", "transformers"))
    a = ap.parse_args()
    # Words that are one token each in the usual BPE vocabularies; about one token per word.
    system = " ".join(["You are a helpful assistant and you answer briefly."] * (a.system_tokens // 9 + 1)) \
        if a.system_tokens else None
    cmd = [a.bin, "serve", a.model, "--port", "0", "--max-concurrency", str(max(a.streams, 1))]
    if a.dtype:
        cmd += ["--dtype", a.dtype]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().rsplit(":", 1)[1])
        stream_chat(port, "warm up", 4)
        ttft, total, tokens = stream_chat(port, "Tell me a story about a robot.", a.max_tokens, system)
        print(f"1 stream: time to first token {ttft * 1000:.1f} ms, {tokens / max(total - ttft, 1e-9):.1f} decode tokens/s")
        results = [None] * a.streams

        def client(i):
            times = []
            first, total, tokens = stream_chat(port, f"Story {i}: " + "tell me more " * i, a.max_tokens, system,
                                               times)
            results[i] = (first, total, tokens, times)

        before = engine_counters(port)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(a.streams)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        total_tokens = sum(r[2] for r in results)
        # Decode rate while all streams decode: content chunks (one per token) after the last
        # stream's first, over the time from then to the last chunk (the prefills excluded).
        all_first = max(r[3][0] for r in results if r[3])
        decode_span = max(r[3][-1] for r in results if r[3]) - all_first
        decode_tokens = sum(1 for r in results for t in r[3] if t > all_first)
        print(f"{a.streams} streams: {decode_tokens / max(decode_span, 1e-9):.1f} aggregate decode tokens/s "
              f"({total_tokens / wall:.1f} counting prefill), time to first token median "
              f"{statistics.median(r[0] for r in results) * 1000:.1f} ms, max {max(r[0] for r in results) * 1000:.1f} ms")
        after = engine_counters(port)
        prompt = after.get("prompt_tokens", 0) - before.get("prompt_tokens", 0)
        cached = after.get("cached_prompt_tokens", 0) - before.get("cached_prompt_tokens", 0)
        if prompt:
            print(f"prefix cache: {cached} of {prompt} prompt tokens cached (hit rate {100.0 * cached / prompt:.1f}%)")
        conn = http.client.HTTPConnection("127.0.0.1", port)
        n, start = 500, time.perf_counter()
        for _ in range(n):
            conn.request("GET", "/health")
            conn.getresponse().read()
        print(f"/health keep-alive: {n / (time.perf_counter() - start):.0f} requests/s")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
