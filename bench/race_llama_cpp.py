#!/usr/bin/python3
"""Side by side on this machine: llama.cpp (prebuilt, node-llama-cpp from npm) and
`transformers bench` on the same random weights, dtype and thread count. Run by hand, never by the
test suite (minutes per model, gigabytes of files):

  /usr/bin/python3 bench/race_llama_cpp.py [--models qwen2.5-0.5b,llama3.2-1b] [--dtypes f32,bf16,q8_0,q4_0,q4_k_m]
        [--threads 2] [--n-prompt 128] [--n-gen 32] [--reps 3] [--rounds 2] [--ttft-runs 3] [--work build/race]

For each model preset (../shared/tools/peer-bench/make_bench_model.py, llama architecture) and
dtype it writes, once, the random checkpoint and its GGUF (st2gguf.py; through bench/gguf_shim
when llama.cpp's gguf-py is absent), then runs llama_bench.mjs and `transformers bench` with the
same disturbance policy (a rep during which other processes used more than --max-others cores is
redone, up to --max-tries, after waiting up to --quiet-wait s for a quiet moment) and prints one
table. The two sides run in rounds, in turn (llama.cpp first in odd rounds, ours first in even
ones): this machine's memory bandwidth drifts by 10-20 % over minutes, so each ratio is taken
within a round and the table gives the median over rounds. Time to first token from a cold start
(a fresh process: load, then one n-prompt prompt, nothing warmed up) is measured by
bench/llama_cold_ttft.mjs and by `transformers bench` (its cold_ttft_s), --ttft-runs times each,
in turn. The quantized rows (q8_0, q4_0, q4_k_m) run both sides on the same GGUF file, ours loading
it as a model (--ours-input checkpoint quantizes the f32 checkpoint while loading instead, which
puts the quantizer in our cold first token). Before each speed run both sides' files are dropped
from the page cache (drop_page_cache), so each reads them back in the folio sizes its own mapping
asks for. llama.cpp has no BF16 row here (st2gguf.py writes f32, f16, q8_0, q4_0): our bf16 is
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
GGUF_TYPE = {"f32": "f32", "bf16": "f16", "f16": "f16", "q8_0": "q8_0", "q4_0": "q4_0", "q4_k_m": "q4_k_m"}
# our run of each: the weights' dtype, or quantize-on-load of every matrix (embeddings and the tied
# output too, as st2gguf.py writes them) into the GGUF file's block format (--ours-input checkpoint;
# by default the quantized rows run the GGUF file llama.cpp runs, QUANTIZED).
OUR_ARGS = {"f32": ["--dtype", "f32"], "bf16": ["--dtype", "bf16"], "f16": ["--dtype", "f16"],
            "q8_0": ["--quantization", "q8_0-all"], "q4_0": ["--quantization", "q4_0-all"],
            "q4_k_m": ["--quantization", "q4_k_m-all"]}
QUANTIZED = ("q8_0", "q4_0", "q4_k_m")


def run(cmd, env=None, capture=False):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, env=env, text=True, stdout=subprocess.PIPE if capture else None)


def drop_page_cache(*paths):
    """Evicts the files' clean pages from the page cache, so that each side reads its weights back
    through its own mapping. The kernel keeps a file in the folio sizes it was first read or written
    in: a file just written (export-gguf, the checkpoint maker) or read in small pieces sits in
    4 KiB pages, which map through 4 KiB page-table entries (34 against 54-57 GB/s reading them on
    this machine), while a mapping's readahead builds 2 MiB folios that map whole. Without this the
    race would depend on what last touched each file."""
    files = []
    for p in paths:
        files += [os.path.join(p, f) for f in sorted(os.listdir(p)) if f.endswith((".safetensors", ".gguf"))] \
            if os.path.isdir(p) else [p]
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def peer_runner(cache):
    """A folder with llama_bench.mjs, llama_cold_ttft.mjs and node/node_modules/node-llama-cpp beside
    them (as they expect). Returns the paths of the two scripts."""
    home = os.path.join(cache, f"node-llama-cpp-{NODE_LLAMA_CPP}")
    pkg = os.path.join(home, "node", "node_modules", "node-llama-cpp", "package.json")
    if not os.path.exists(pkg):
        os.makedirs(os.path.join(home, "node"), exist_ok=True)
        env = dict(os.environ, NODE_LLAMA_CPP_SKIP_DOWNLOAD="true")  # the prebuilt binaries come from npm
        run(["npm", "install", "--no-audit", "--no-fund", "--prefix", os.path.join(home, "node"),
             f"node-llama-cpp@{NODE_LLAMA_CPP}"], env=env)
    shutil.copy2(os.path.join(PEER, "llama_bench.mjs"), os.path.join(home, "llama_bench.mjs"))
    shutil.copy2(os.path.join(ROOT, "bench", "llama_cold_ttft.mjs"), os.path.join(home, "llama_cold_ttft.mjs"))
    return os.path.join(home, "llama_bench.mjs"), os.path.join(home, "llama_cold_ttft.mjs")


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
        if outtype in ("q8_0", "q4_0", "q4_k_m"):
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


def median(values):
    s = sorted(values)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def load_json(path):
    with open(path) as f:
        return json.load(f)


def round_figures(peer, ours, max_others):
    """One round's figures: quiet medians of each side, ours' roofline and FMA-peak fractions."""
    o_oth, p_oth = ours["others_cores_reps"], peer["others_cores"]
    pp, o_quiet = quiet_median(ours["prompt_tok_s_reps"], o_oth, max_others)
    tg, _ = quiet_median(ours["gen_tok_s_reps"], o_oth, max_others)
    p_pp, p_quiet = quiet_median(peer["pp_tok_s"], p_oth, max_others)
    p_tg, _ = quiet_median(peer["tg_tok_s"], p_oth, max_others)
    return {"pp": pp, "tg": tg, "p_pp": p_pp, "p_tg": p_tg, "roof_frac": tg / ours["decode_roofline_tok_s"],
            "roof": ours["decode_roofline_tok_s"],
            "peak_frac": ours["prefill_peak_fraction"] * pp / ours["prompt_tok_s"],
            "quiet": (o_quiet, len(o_oth), p_quiet, len(p_oth))}


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
    ap.add_argument("--rounds", type=int, default=2, help="runs of both sides, in turn; ratios are medians over rounds")
    ap.add_argument("--ttft-runs", type=int, default=3, help="cold-start time-to-first-token runs of each side (0: none)")
    ap.add_argument("--max-others", type=float, default=0.1)
    ap.add_argument("--max-tries", type=int, default=5)
    ap.add_argument("--quiet-wait", type=float, default=20)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "race"))
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/transformers-cpp"))
    ap.add_argument("--table-only", action="store_true", help="print the table from the JSON files of an earlier run")
    ap.add_argument("--ours-input", choices=("gguf", "checkpoint"), default="gguf",
                    help="for q8_0 / q4_0 / q4_k_m, run ours on the GGUF file llama.cpp runs (the same pre-quantized "
                         "blocks, loaded as llama.cpp loads them) or quantize the f32 checkpoint while loading")
    ap.add_argument("--transformers", default=os.path.join(ROOT, "build", "release", "cli", "transformers"))
    a = ap.parse_args()
    for d in a.dtypes.split(","):
        if d not in GGUF_TYPE:
            sys.exit(f"--dtypes: unknown dtype {d} (f32, bf16, f16, q8_0, q4_0, q4_k_m)")
    if not a.table_only and not os.access(a.transformers, os.X_OK):
        sys.exit(f"{a.transformers} missing: scripts/build release transformers_cli")
    os.makedirs(a.work, exist_ok=True)
    llama_bench, llama_ttft = (None, None) if a.table_only else peer_runner(a.cache)
    common = ["--n-prompt", str(a.n_prompt), "--n-gen", str(a.n_gen), "--threads", str(a.threads), "--reps",
              str(a.reps), "--max-others", str(a.max_others), "--max-tries", str(a.max_tries), "--quiet-wait",
              str(a.quiet_wait)]
    rows = []
    for preset in a.models.split(","):
        for dtype in a.dtypes.split(","):
            outtype = GGUF_TYPE[dtype]
            from_gguf = dtype in QUANTIZED and a.ours_input == "gguf"
            stem = os.path.join(a.work, f"{preset}-{dtype}")
            ours_stem = stem + ("-gguf" if from_gguf else "")
            if not a.table_only:
                model_dir = checkpoint(a.work, preset)
                gguf = gguf_file(a.work, model_dir, preset, outtype, a.transformers)
                ours_model = [gguf] if from_gguf else [model_dir, *OUR_ARGS[dtype]]
                for r in range(1, a.rounds + 1):
                    peer_run = ["node", llama_bench, "--model", gguf, "--json", f"{stem}-llama-r{r}.json"] + common
                    ours_run = [a.transformers, "bench", *ours_model, "--json", f"{ours_stem}-ours-r{r}.json"] + common
                    for cmd in (peer_run, ours_run) if r % 2 else (ours_run, peer_run):
                        drop_page_cache(gguf, model_dir)
                        run(cmd)
                for r in range(1, a.ttft_runs + 1):
                    run(["node", llama_ttft, "--model", gguf, "--n-prompt", str(a.n_prompt), "--threads",
                         str(a.threads), "--json", f"{stem}-llama-ttft{r}.json"])
                    run([a.transformers, "bench", *ours_model, "--n-prompt", str(a.n_prompt),
                         "--n-gen", "1", "--reps", "1", "--threads", str(a.threads), "--json",
                         f"{ours_stem}-ours-ttft{r}.json"])
            rounds = []
            for r in range(1, a.rounds + 1):
                if os.path.exists(f"{stem}-llama-r{r}.json") and os.path.exists(f"{ours_stem}-ours-r{r}.json"):
                    peer, ours = load_json(f"{stem}-llama-r{r}.json"), load_json(f"{ours_stem}-ours-r{r}.json")
                    rounds.append(round_figures(peer, ours, a.max_others))
            ttft = []
            for r in range(1, a.ttft_runs + 1):
                if os.path.exists(f"{stem}-llama-ttft{r}.json") and os.path.exists(f"{ours_stem}-ours-ttft{r}.json"):
                    ttft.append((load_json(f"{ours_stem}-ours-ttft{r}.json")["cold_ttft_s"],
                                 load_json(f"{stem}-llama-ttft{r}.json")["cold_ttft_s"]))
            if rounds:
                rows.append((preset, dtype + (" (gguf)" if from_gguf else ""), outtype.upper(), rounds, ttft, ours, peer))

    print(f"\nCPU: {cpu_name()}, {os.cpu_count()} cores; {a.threads} threads, prompt {a.n_prompt}, generate {a.n_gen}, "
          f"medians of {a.reps} reps")
    if rows:
        m = rows[-1][5]["machine"]
        print(f"machine limits (transformers bench, {m['isa']}): read {m['read_gb_s']:.1f} GB/s, "
              f"FP32 FMA {m['fma_gflop_s']:.0f} GFLOP/s; llama.cpp {(rows[-1][6].get('llama_cpp') or {}).get('release')} "
              f"(node-llama-cpp {rows[-1][6].get('node_llama_cpp')})")
    head = ("model", "ours", "llama.cpp", "prompt ours", "prompt llama", "ratio", "gen ours", "gen llama", "ratio",
            "ours gen/roofline", "ours prefill/FMA peak", "cold TTFT ours", "cold TTFT llama", "ratio",
            "quiet reps ours, llama")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for preset, dtype, outtype, rounds, ttft, _, _ in rows:
        med = lambda key: median([f[key] for f in rounds])
        pp_ratio = median([f["pp"] / f["p_pp"] for f in rounds])
        tg_ratio = median([f["tg"] / f["p_tg"] for f in rounds])
        quiet = [sum(f["quiet"][i] for f in rounds) for i in range(4)]
        if ttft:
            t_ours, t_peer = median([t[0] for t in ttft]), median([t[1] for t in ttft])
            ttft_cells = (f"{t_ours:.3f} s", f"{t_peer:.3f} s", f"{median([t[1] / t[0] for t in ttft]):.2f}")
        else:
            ttft_cells = ("-", "-", "-")
        cells = (preset, dtype, outtype, f"{med('pp'):.1f}", f"{med('p_pp'):.1f}", f"{pp_ratio:.2f}",
                 f"{med('tg'):.2f}", f"{med('p_tg'):.2f}", f"{tg_ratio:.2f}",
                 f"{100 * med('roof_frac'):.0f}% of {med('roof'):.1f}", f"{100 * med('peak_frac'):.0f}%",
                 *ttft_cells, f"{quiet[0]}/{quiet[1]}, {quiet[2]}/{quiet[3]}")
        print("| " + " | ".join(cells) + " |")
    for preset, dtype, _, rounds, _, _, _ in rows:
        per_round = "; ".join(f"round {i + 1}: prompt {f['pp']:.1f} vs {f['p_pp']:.1f}, gen {f['tg']:.2f} vs {f['p_tg']:.2f}"
                              for i, f in enumerate(rounds))
        print(f"{preset} {dtype}: {per_round}")
    print(f"(figures: medians over rounds of each round's medians; ratios: medians over rounds of each round's "
          f"ratio; cold TTFT ratio = llama.cpp / ours, over {a.ttft_runs} fresh processes each)")
    print(f"(medians over the reps during which other processes used <= {a.max_others} cores; over all reps "
          "where none were that quiet, so 0/N marks a figure taken on a busy machine)")


if __name__ == "__main__":
    main()
