#!/usr/bin/python3
"""Side by side on this machine: llama.cpp (prebuilt, node-llama-cpp from npm) and
`transformers bench` on the same random weights, dtype and thread count. Run by hand, never by the
test suite (minutes per model, gigabytes of files):

  /usr/bin/python3 bench/race_llama_cpp.py [--models qwen2.5-0.5b,llama3.2-1b] [--dtypes f32,bf16]
        [--threads 2] [--n-prompt 128] [--n-gen 32] [--reps 3] [--work build/race]

For each model preset (../shared/tools/peer-bench/make_bench_model.py, llama architecture) and
dtype it writes, once, the random checkpoint and its GGUF (st2gguf.py; through bench/gguf_shim
when llama.cpp's gguf-py is absent), then runs llama_bench.mjs and `transformers bench` with the
same disturbance policy (a rep during which other processes used more than --max-others cores is
redone, up to --max-tries, after waiting up to --quiet-wait s for a quiet moment) and prints one
table. llama.cpp has no BF16 row here (st2gguf.py writes f32, f16, q8_0, q4_0): our bf16 is
compared with its F16, the 16-bit format it runs. Files are reused when present; delete --work to
rebuild them. node-llama-cpp is installed into ~/.cache/transformers-cpp (or --cache) when absent.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.path.normpath(os.path.join(ROOT, "..", "shared", "tools", "peer-bench"))
PYTHON = "/usr/bin/python3"
NODE_LLAMA_CPP = "3.22.1"
# our dtype -> the GGUF outtype llama.cpp runs for it
GGUF_TYPE = {"f32": "f32", "bf16": "f16", "f16": "f16"}


def run(cmd, env=None, capture=False):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, env=env, text=True, stdout=subprocess.PIPE if capture else None)


def peer_runner(cache):
    """A folder with llama_bench.mjs and node/node_modules/node-llama-cpp beside it (as it expects)."""
    home = os.path.join(cache, f"node-llama-cpp-{NODE_LLAMA_CPP}")
    pkg = os.path.join(home, "node", "node_modules", "node-llama-cpp", "package.json")
    if not os.path.exists(pkg):
        os.makedirs(os.path.join(home, "node"), exist_ok=True)
        env = dict(os.environ, NODE_LLAMA_CPP_SKIP_DOWNLOAD="true")  # the prebuilt binaries come from npm
        run(["npm", "install", "--no-audit", "--no-fund", "--prefix", os.path.join(home, "node"),
             f"node-llama-cpp@{NODE_LLAMA_CPP}"], env=env)
    shutil.copy2(os.path.join(PEER, "llama_bench.mjs"), os.path.join(home, "llama_bench.mjs"))
    return os.path.join(home, "llama_bench.mjs")


def checkpoint(work, preset):
    out = os.path.join(work, f"{preset}-llama")
    if not os.path.exists(os.path.join(out, "model.safetensors")):
        run([PYTHON, os.path.join(PEER, "make_bench_model.py"), "--preset", preset, "--arch", "llama", "--out", out])
    return out


def gguf_file(work, model_dir, preset, outtype):
    out = os.path.join(work, f"{preset}-{outtype}.gguf")
    if not os.path.exists(out):
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bench", "gguf_shim"))
        run([PYTHON, os.path.join(PEER, "st2gguf.py"), model_dir, out + ".part", "--outtype", outtype], env=env)
        os.replace(out + ".part", out)
    return out


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="qwen2.5-0.5b,llama3.2-1b")
    ap.add_argument("--dtypes", default="f32,bf16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-prompt", type=int, default=128)
    ap.add_argument("--n-gen", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--max-others", type=float, default=0.1)
    ap.add_argument("--max-tries", type=int, default=5)
    ap.add_argument("--quiet-wait", type=float, default=20)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "race"))
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/transformers-cpp"))
    ap.add_argument("--transformers", default=os.path.join(ROOT, "build", "release", "cli", "transformers"))
    a = ap.parse_args()
    for d in a.dtypes.split(","):
        if d not in GGUF_TYPE:
            sys.exit(f"--dtypes: unknown dtype {d} (f32, bf16, f16)")
    if not os.access(a.transformers, os.X_OK):
        sys.exit(f"{a.transformers} missing: scripts/build release transformers_cli")
    os.makedirs(a.work, exist_ok=True)
    llama_bench = peer_runner(a.cache)
    common = ["--n-prompt", str(a.n_prompt), "--n-gen", str(a.n_gen), "--threads", str(a.threads), "--reps",
              str(a.reps), "--max-others", str(a.max_others), "--max-tries", str(a.max_tries), "--quiet-wait",
              str(a.quiet_wait)]
    rows = []
    for preset in a.models.split(","):
        model_dir = checkpoint(a.work, preset)
        for dtype in a.dtypes.split(","):
            outtype = GGUF_TYPE[dtype]
            gguf = gguf_file(a.work, model_dir, preset, outtype)
            peer_json, ours_json = os.path.join(a.work, "llama.json"), os.path.join(a.work, "ours.json")
            run(["node", llama_bench, "--model", gguf, "--json", peer_json] + common)
            run([a.transformers, "bench", model_dir, "--dtype", dtype, "--json", ours_json] + common)
            with open(peer_json) as f:
                peer = json.load(f)
            with open(ours_json) as f:
                ours = json.load(f)
            rows.append((preset, dtype, outtype.upper(), peer, ours))

    print(f"\nCPU: {cpu_name()}, {os.cpu_count()} cores; {a.threads} threads, prompt {a.n_prompt}, generate {a.n_gen}, "
          f"medians of {a.reps} reps")
    if rows:
        m = rows[-1][4]["machine"]
        print(f"machine limits (transformers bench, {m['isa']}): read {m['read_gb_s']:.1f} GB/s, "
              f"FP32 FMA {m['fma_gflop_s']:.0f} GFLOP/s; llama.cpp {rows[-1][3].get('llama_cpp')} "
              f"(node-llama-cpp {rows[-1][3].get('node_llama_cpp')})")
    head = ("model", "ours", "llama.cpp", "prompt ours", "prompt llama", "ratio", "gen ours", "gen llama", "ratio",
            "gen/roofline", "prefill/FMA peak", "others (ours | llama)")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for preset, dtype, outtype, peer, ours in rows:
        pp, tg = ours["prompt_tok_s"], ours["gen_tok_s"]
        quiet = (f"{max(ours['others_cores_reps']):.2f}{' DISTURBED' if ours['disturbed_reps'] else ''} | "
                 f"{max(peer['others_cores']):.2f}{' DISTURBED' if peer['contaminated'] else ''}")
        cells = (preset, dtype, outtype, f"{pp:.1f}", f"{peer['pp_tok_s_median']:.1f}",
                 f"{pp / peer['pp_tok_s_median']:.2f}", f"{tg:.2f}", f"{peer['tg_tok_s_median']:.2f}",
                 f"{tg / peer['tg_tok_s_median']:.2f}",
                 f"{100 * ours['decode_roofline_fraction']:.0f}% of {ours['decode_roofline_tok_s']:.1f}",
                 f"{100 * ours['prefill_peak_fraction']:.0f}%", quiet)
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
