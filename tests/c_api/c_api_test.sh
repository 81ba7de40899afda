#!/usr/bin/env bash
# Runs the C program tests/c_api/c_api_test.c on a tiny Llama with the Llama-2 tokenizer, with the
# ids the C++ API gives for the same greedy call (`transformers generate --json`) as the reference.
# usage: c_api_test.sh TEST_C_API MAKE_TINY_MODEL TRANSFORMERS_CLI TOKENIZER_DIR
source "$(dirname "$0")/../common/script_util.sh"
test_c_api=$1 make_tiny_model=$2 cli=$3 tokenizer_dir=$4
model=$scratch/model prompt="The capital of France is" new_tokens=8
make_tiny_llama "$make_tiny_model" "$tokenizer_dir" "$model"
expected=$(greedy_ids "$cli" "$model" "$prompt" $new_tokens)
[ -n "$expected" ] || fail "the transformers command generated nothing"
"$test_c_api" "$model" "$prompt" $new_tokens "$expected"
