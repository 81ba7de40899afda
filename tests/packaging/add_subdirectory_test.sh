#!/usr/bin/env bash
# transformers-cpp as a subproject: a parent project add_subdirectory's the source tree (its own
# binary folder), gets the library without the command, tests, benchmarks or fuzzers, and builds
# and runs a program linked to transformers::transformers.
# usage: add_subdirectory_test.sh SOURCE_DIR BINARY_DIR
#   BINARY_DIR: two levels below SOURCE_DIR (build/<name>), as build/release is, so that ccache's
#   paths relative to the build folder are the same and the library's objects come from the cache.
source "$(dirname "$0")/../common/script_util.sh"
src=$1 bin=$2
mkdir -p "$scratch/parent"
cat >"$scratch/parent/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(parent LANGUAGES CXX)
add_subdirectory("$src" transformers-cpp)
foreach(program transformers_cli make_tiny_model test_core bench_kernels)
  if(TARGET \${program})
    message(FATAL_ERROR "a subproject build defines \${program}")
  endif()
endforeach()
add_executable(parent_app main.cpp)
target_link_libraries(parent_app PRIVATE transformers::transformers)
CMAKE
cat >"$scratch/parent/main.cpp" <<'CPP'
#include <iostream>

#include "transformers/transformers.h"

int main() {
  auto t = transformers::Tensor::from_values(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  std::cout << "numel " << t.numel() << "\n";
}
CPP

rm -rf "$bin"
export CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=true
with_build_lock cmake -S "$scratch/parent" -B "$bin" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
with_build_lock cmake --build "$bin" --target parent_app >/dev/null
out=$("$bin/parent_app")
[ "$out" = "numel 6" ] || fail "parent_app printed '$out'"
built=$(find "$bin/transformers-cpp" -name 'libtransformers_*.a' -printf '%f ' | tr ' ' '\n' | sort | tr '\n' ' ')
[ "$built" = "libtransformers_c.a libtransformers_chat.a libtransformers_engine.a libtransformers_tokenization.a " ] ||
  fail "the subproject built: $built"
rm -rf "$bin"
echo "parent_app: $out; libraries: $built"
