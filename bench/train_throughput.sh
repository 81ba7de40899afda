#!/usr/bin/env bash
# Training throughput (a benchmark, not a test): full fine-tuning of a ~10M-parameter Llama
# (make_tiny_model: 5 layers, hidden 384, 6 heads, SwiGLU 1024, tied 4096-token embeddings) on
# random token rows, batch BATCH x 256 tokens, AdamW, float32, THREADS threads. Prints tokens/s
# and peak RSS for `transformers train`, and beside it for the same model and batch in PyTorch
# (bench/train_torch.py) when Debian's python3-torch is installed (apt-get install python3-torch).
#   bench/train_throughput.sh [STEPS=20] [BATCH=8] [THREADS=2]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
steps=${1:-20} batch=${2:-8} threads=${3:-2}
cd "$root"
scripts/build release transformers_cli make_tiny_model >/dev/null
bin="$root/build/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/tools/make_tiny_model" --arch llama --out "$work/model" --hidden 384 --layers 5 --heads 6 --kv-heads 6 \
  --head-dim 64 --intermediate 1024 --vocab 4096 --tie --max-positions 256 --std 0.02 --seed 1 --v5-config -q
/usr/bin/python3 -c "import numpy as np; np.save('$work/tokens.npy', np.random.default_rng(0).integers(0, 4096, size=($steps * $batch, 256), dtype=np.int64))"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)), $threads threads; batch $batch x 256 tokens, $steps steps"

/usr/bin/time -f '%M' -o "$work/rss" "$bin/cli/transformers" --threads "$threads" train --model "$work/model" \
  --data "$work/tokens.npy" output_dir="$work/run" per_device_train_batch_size="$batch" max_steps="$steps" \
  logging_steps="$steps" save_strategy=no report_to=none learning_rate=1e-4 --quiet >"$work/metrics.json" 2>/dev/null
/usr/bin/python3 - "$work" "$batch" "$steps" <<'PY'
import json, sys
work, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
m = json.loads(open(work + "/metrics.json").read().strip().splitlines()[-1])
rss = int(open(work + "/rss").read().split()[-1]) / 1024
print(f"transformers-cpp: {steps * batch * 256 / m['train_runtime']:.0f} tokens/s, peak RSS {rss:.0f} MiB "
      f"({m['train_runtime']:.2f} s, train_loss {m['train_loss']:.4f})")
PY
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  # OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines here for old OpenBLAS builds) would
  # hold Debian's OpenBLAS to older kernels: unset for this command only.
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/train_torch.py "$work/model/config.json" "$work/tokens.npy" "$batch" "$steps" "$threads" |
    /usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"PyTorch {r['torch']}: {r['tokens_per_second']:.0f} tokens/s, peak RSS {r['peak_rss_mib']:.0f} MiB ({r['seconds']:.2f} s, {r['parameters']/1e6:.1f}M parameters, last loss {r['last_loss']:.4f})\")"
else
  echo "PyTorch: not installed (apt-get install python3-torch), skipped"
fi
