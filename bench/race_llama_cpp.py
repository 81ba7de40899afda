#!/usr/bin/python3
"""Side by side on this machine: llama.cpp (prebuilt, node-llama-cpp from npm) and
`transformers bench` on the same random weights, dtype and thread count. Run by hand, never by the
test suite (minutes per model, gigabytes of files):

  /usr/bin/python3 bench/race_llama_cpp.py [--models qwen2.5-0.5b,llama3.2-1b] [--dtypes f32,bf16,q8_0,q4_0]
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
GGUF_TYPE = {"f32": "f32", "bf16": "f16", "f16": "f16", "q8_0": "q8_0", "q4_0": "q4_0"}
# our run of each: the weights' dtype, or quantize-on-load of every matrix (embeddings and the tied
# output too, as st2gguf.py writes them) into the GGUF file's block format.
OUR_ARGS = {"f32": ["--dtype", "f32"], "bf16": ["--dtype", "bf16"], "f16": ["--dtype", "f16"],
            "q8_0": ["--quantization", "q8_0-all"], "q4_0": ["--quantization", "q4_0-all"]}


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


def gguf_file(work, model_dir, preset, outtype, transformers):
    """The GGUF file llama.cpp runs: float types by st2gguf.py, the block types by our export-gguf
    (bench/gguf_shim writes float tensors only)."""
    out = os.path.join(work, f"{preset}-{outtype}.gguf")
    if not os.path.exists(out):
        if outtype in ("q8_0", "q4_0"):
            run([transformers, "export-gguf", model_dir, out + ".part", "--outtype", outtype])
        else:
            env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bench", "gguf_shim"))
            run([PYTHON, os.path.join(PEER, "st2gguf.py"), model_dir, out + ".part", "--outtype", outtype], env=env)
        os.replace(out + ".part", out)
    return out


def quiet_median(values, others, max_others):
    """Median over the reps during which other processes stayed under max_others cores (all reps,
    marked, when none did): a median over a mix of quiet and disturbed reps measures the scheduler."""
    quiet = [v for v, o in zip(values, others) if o <= max_others]
    picked = quiet or values
    s = sorted(picked)
    m = len(s) // 2
    return (s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2), len(quiet)


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
    ap.add_argument("--table-only", action="store_true", help="print the table from the JSON files of an earlier run")
    ap.add_argument("--transformers", default=os.path.join(ROOT, "build", "release", "cli", "transformers"))
    a = ap.parse_args()
    for d in a.dtypes.split(","):
        if d not in GGUF_TYPE:
            sys.exit(f"--dtypes: unknown dtype {d} (f32, bf16, f16, q8_0, q4_0)")
    if not a.table_only and not os.access(a.transformers, os.X_OK):
        sys.exit(f"{a.transformers} missing: scripts/build release transformers_cli")
    os.makedirs(a.work, exist_ok=True)
    llama_bench = None if a.table_only else peer_runner(a.cache)
    common = ["--n-prompt", str(a.n_prompt), "--n-gen", str(a.n_gen), "--threads", str(a.threads), "--reps",
              str(a.reps), "--max-others", str(a.max_others), "--max-tries", str(a.max_tries), "--quiet-wait",
              str(a.quiet_wait)]
    rows = []
    for preset in a.models.split(","):
        for dtype in a.dtypes.split(","):
            outtype = GGUF_TYPE[dtype]
            peer_json = os.path.join(a.work, f"{preset}-{dtype}-llama.json")
            ours_json = os.path.join(a.work, f"{preset}-{dtype}-ours.json")
            if not a.table_only:
                model_dir = checkpoint(a.work, preset)
                gguf = gguf_file(a.work, model_dir, preset, outtype, a.transformers)
                run(["node", llama_bench, "--model", gguf, "--json", peer_json] + common)
                run([a.transformers, "bench", model_dir, *OUR_ARGS[dtype], "--json", ours_json] + common)
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
              f"FP32 FMA {m['fma_gflop_s']:.0f} GFLOP/s; llama.cpp {(rows[-1][3].get('llama_cpp') or {}).get('release')} "
              f"(node-llama-cpp {rows[-1][3].get('node_llama_cpp')})")
    head = ("model", "ours", "llama.cpp", "prompt ours", "prompt llama", "ratio", "gen ours", "gen llama", "ratio",
            "ours gen/roofline", "ours prefill/FMA peak", "quiet reps ours, llama")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for preset, dtype, outtype, peer, ours in rows:
        o_oth, p_oth = ours["others_cores_reps"], peer["others_cores"]
        pp, o_quiet = quiet_median(ours["prompt_tok_s_reps"], o_oth, a.max_others)
        tg, _ = quiet_median(ours["gen_tok_s_reps"], o_oth, a.max_others)
        p_pp, p_quiet = quiet_median(peer["pp_tok_s"], p_oth, a.max_others)
        p_tg, _ = quiet_median(peer["tg_tok_s"], p_oth, a.max_others)
        roof = ours["decode_roofline_tok_s"]
        prefill_frac = ours["prefill_peak_fraction"] * pp / ours["prompt_tok_s"]
        cells = (preset, dtype, outtype, f"{pp:.1f}", f"{p_pp:.1f}", f"{pp / p_pp:.2f}", f"{tg:.2f}", f"{p_tg:.2f}",
                 f"{tg / p_tg:.2f}", f"{100 * tg / roof:.0f}% of {roof:.1f}", f"{100 * prefill_frac:.0f}%",
                 f"{o_quiet}/{len(o_oth)}, {p_quiet}/{len(p_oth)}")
        print("| " + " | ".join(cells) + " |")
    print(f"(medians over the reps during which other processes used <= {a.max_others} cores; over all reps "
          "where none were that quiet, so 0/N marks a figure taken on a busy machine)")


if __name__ == "__main__":
    main()
