#!/usr/bin/env bash
# transformers-cpp as a subproject: a parent project add_subdirectory's the source tree (its own
# binary folder), gets the library without the command, tests, benchmarks or fuzzers, and builds
# and runs a program linked to transformers::transformers. It configures with a pkg-config search
# path that lacks libcurl and libcrypto: only the Hub download library and the command need them.
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

# Every pkg-config module of this machine but libcurl's and OpenSSL's.
mkdir -p "$scratch/pkgconfig"
IFS=: read -r -a pc_dirs <<<"$(pkg-config --variable pc_path pkg-config)"
for dir in "${pc_dirs[@]}"; do
  [ -d "$dir" ] || continue
  for pc in "$dir"/*.pc; do
    case "$(basename "$pc")" in libcurl*.pc | libcrypto.pc | libssl.pc | openssl.pc) continue ;; esac
    [ -e "$scratch/pkgconfig/$(basename "$pc")" ] || ln -s "$pc" "$scratch/pkgconfig/"
  done
done
PKG_CONFIG_LIBDIR="$scratch/pkgconfig" PKG_CONFIG_PATH="" pkg-config --exists libcurl && fail "libcurl still visible"

rm -rf "$bin"
export CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=true
PKG_CONFIG_LIBDIR="$scratch/pkgconfig" PKG_CONFIG_PATH="" \
  with_build_lock cmake -S "$scratch/parent" -B "$bin" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$scratch/configure.log" 2>&1 ||
  fail "configuring without libcurl/libcrypto: $(tail -20 "$scratch/configure.log")"
grep -q "transformers_hub" "$bin/build.ninja" && fail "the subproject defines transformers_hub"
with_build_lock cmake --build "$bin" --target parent_app >/dev/null
out=$("$bin/parent_app")
[ "$out" = "numel 6" ] || fail "parent_app printed '$out'"
built=$(find "$bin/transformers-cpp" -name 'libtransformers_*.a' -printf '%f ' | tr ' ' '\n' | sort | tr '\n' ' ')
[ "$built" = "libtransformers_c.a libtransformers_chat.a libtransformers_engine.a libtransformers_tokenization.a libtransformers_training.a " ] ||
  fail "the subproject built: $built"
rm -rf "$bin"
echo "parent_app: $out; libraries: $built"
