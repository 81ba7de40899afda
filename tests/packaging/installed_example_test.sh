#!/usr/bin/env bash
# The library as another project uses it: `cmake --install` into a temporary prefix, then
# examples/generate built against that prefix twice, with find_package (CMAKE_PREFIX_PATH) and with
# pkg-config (PKG_CONFIG_PATH), and both run on a tiny model; tests/c_api/c_api_test.c too, compiled
# as C and linked through pkg-config. Reference: the `transformers` command
# generating greedily from the same prompt (--json ids).
# usage: installed_example_test.sh SOURCE_DIR BUILD_DIR MAKE_TINY_MODEL TRANSFORMERS_CLI TOKENIZER_DIR
source "$(dirname "$0")/../common/script_util.sh"
src=$1 build=$2 make_tiny_model=$3 cli=$4 tokenizer_dir=$5
prefix=$scratch/prefix model=$scratch/model prompt="The capital of France is" new_tokens=6

make_tiny_llama "$make_tiny_model" "$tokenizer_dir" "$model"
cmake --install "$build" --prefix "$prefix" >/dev/null

for f in include/transformers/transformers.h include/transformers/chat/apply_chat_template.h \
         include/transformers/tokenization/tokenizer.h lib/cmake/transformers/transformersConfig.cmake; do
  [ -f "$prefix/$f" ] || fail "the install has no $f"
done
# The installed command runs from the prefix (shared builds: its rpath is $ORIGIN/../lib).
"$prefix/bin/transformers" version | grep -q "^transformers-cpp " || fail "the installed command does not run"
pc=$(find "$prefix" -name transformers.pc)
[ -n "$pc" ] || fail "the install has no transformers.pc"

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
with_build_lock cmake -S "$src/examples/generate" -B "$scratch/find-package" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" >/dev/null
with_build_lock cmake --build "$scratch/find-package" >/dev/null
# By hand, as the README shows it: the flags come from pkg-config alone.
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs transformers)
with_build_lock c++ -std=c++20 -O1 "$src/examples/generate/generate.cpp" -o "$scratch/pkg-config-example" $flags

# The C API from C, compiled by the C compiler and linked through pkg-config alone (the static
# archives need the C++ runtime: -lstdc++).
with_build_lock cc -std=c99 "$src/tests/c_api/c_api_test.c" -o "$scratch/c-api-test" $flags -lstdc++ -lm

expected=$(greedy_ids "$cli" "$model" "$prompt" $new_tokens)
[ -n "$expected" ] || fail "the transformers command generated nothing"
for exe in "$scratch/find-package/generate_example" "$scratch/pkg-config-example"; do
  # A shared build's libraries are found as an installed system's would be (the pkg-config link
  # has no rpath).
  out=$(LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")") "$exe" "$model" "$prompt" $new_tokens) || fail "$exe exited with $?"
  ids=$(sed -n 's/^ids: //p' <<<"$out")
  [ "$ids" = "$expected" ] || fail "$exe generated [$ids], the transformers command [$expected]"
  grep -q "^text: $prompt" <<<"$out" || fail "$exe printed no text line: $out"
  echo "$exe: ids $ids"
done
LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")") "$scratch/c-api-test" "$model" "$prompt" $new_tokens "$expected" >/dev/null ||
  fail "the C API test linked through pkg-config failed"
