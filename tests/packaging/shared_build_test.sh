#!/usr/bin/env bash
# -DBUILD_SHARED_LIBS=ON: a build of its own (library, command, make_tiny_model; ccache makes it
# quick once the static build has compiled the same -fPIC objects), versioned sonames
# (lib*.so.MAJOR.MINOR while the major version is 0), then the installed-example test against it.
# usage: shared_build_test.sh SOURCE_DIR BINARY_DIR VERSION TOKENIZER_DIR
#   BINARY_DIR: two levels below SOURCE_DIR (build/<name>), for ccache hits (see add_subdirectory_test.sh).
source "$(dirname "$0")/../common/script_util.sh"
src=$1 bin=$2 version=$3 tokenizer_dir=$4
IFS=. read -r major minor _ <<<"$version"
soversion=$([ "$major" = 0 ] && echo "$major.$minor" || echo "$major")

export CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=true
with_build_lock cmake -S "$src" -B "$bin" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DTCPP_BUILD_TESTS=OFF -DTCPP_BUILD_BENCH=OFF >/dev/null
with_build_lock cmake --build "$bin" --target transformers_c transformers_cli make_tiny_model >/dev/null
for lib in engine tokenization chat c; do
  so="$bin/transformers/libtransformers_$lib.so"
  soname=$(objdump -p "$so" | awk '$1 == "SONAME" {print $2}')
  [ "$soname" = "libtransformers_$lib.so.$soversion" ] || fail "$so has soname '$soname', not libtransformers_$lib.so.$soversion"
  [ -f "$so.$version" ] || fail "no $so.$version"
done
"$(dirname "$0")/installed_example_test.sh" "$src" "$bin" "$bin/tools/make_tiny_model" "$bin/cli/transformers" "$tokenizer_dir"
