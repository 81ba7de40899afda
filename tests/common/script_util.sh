# Sourced by the script tests (tests/packaging, tests/c_api): a scratch folder removed on exit,
# the build lock that scripts/build takes (the machine has few cores; two builds at once only
# thrash), and a tiny model with a real tokenizer.
set -euo pipefail
scratch=$(mktemp -d "${TMPDIR:-/tmp}/transformers-script-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# with_build_lock CMD...: runs CMD holding the lock.
with_build_lock() {
  (
    exec 9>"${TMPDIR:-/tmp}/transformers-cpp-build.lock"
    flock 9
    "$@"
  )
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# make_tiny_llama MAKE_TINY_MODEL TOKENIZER_DIR OUT: a random 2-layer Llama with the vocabulary of
# the tokenizer folder's tokenizer.json (32000: the Llama-2 tokenizer) and its tokenizer files.
make_tiny_llama() {
  "$1" --arch llama --vocab 32000 --out "$3" >/dev/null
  cp "$2/tokenizer.json" "$2/tokenizer_config.json" "$3/"
}

# greedy_ids TRANSFORMERS_CLI MODEL PROMPT N: the ids (prompt + N new) `transformers generate`
# gives greedily, space-separated: the C++ API's answer the other programs are checked against.
greedy_ids() {
  "$1" generate "$2" --prompt "$3" --max-new-tokens "$4" --greedy --json |
    python3 -c 'import json, sys; print(" ".join(map(str, json.load(sys.stdin)["sequences"][0])))'
}
