#!/usr/bin/env bash
# transformers serve on a random model with Qwen2.5-0.5B's shapes (24 layers, hidden 896, 14/2
# heads, MLP 4864, vocab 151936, tied head; the Qwen tokenizer and chat template from ../shared):
# 1 stream, then N concurrent streams sharing a system prompt, through bench/serve_load.py
# (aggregate decode tokens/s, time to first token under load, prefix-cache hit rate). Figures,
# not a test.
#   bench/serve_qwen_shape.sh [--dtype bfloat16|float32] [serve_load.py flags: --streams 8 --max-tokens 64 ...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dtype=bfloat16
if [[ "${1:-}" == "--dtype" ]]; then dtype=$2; shift 2; fi
model=${TMPDIR:-/tmp}/tcpp-qwen2.5-0.5b-shape-$dtype
if [[ ! -f "$model/config.json" ]]; then
  "$root/build/release/tools/make_tiny_model" --arch qwen2 --out "$model" --dtype "$dtype" --hidden 896 --layers 24 \
    --heads 14 --kv-heads 2 --head-dim 64 --intermediate 4864 --vocab 151936 --tie --max-positions 32768 \
    --rope-theta 1000000 --eos-id 151645 --bos-id 151643 --pad-id 151643 --quiet
  cp "$root/../shared/tokenizers/models/qwen3/tokenizer.json" "$root/../shared/tokenizers/models/qwen3/tokenizer_config.json" "$model/"
fi
exec python3 "$root/bench/serve_load.py" "$model" --system-tokens 256 "$@"
