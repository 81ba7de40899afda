// The two loops behind machine_limits.cpp, written once over GCC vector types of kLanes floats
// and instantiated per ISA in files compiled with that ISA's -m flags and -ffp-contract=fast
// (machine_limits_avx2.cpp: 8 lanes, machine_limits_avx512.cpp: 16), so a * b + c becomes one
// FMA instruction on the full vector width. Everything is a template on kLanes, so the per-ISA
// copies never collide at link time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace transformers::cli {

// (GCC drops vector_size on an alias template, so each width is spelled out.)
template <int kLanes>
struct VecOf;
template <>
struct VecOf<1> {
  typedef float type __attribute__((vector_size(4)));
};
template <>
struct VecOf<8> {
  typedef float type __attribute__((vector_size(32)));
};
template <>
struct VecOf<16> {
  typedef float type __attribute__((vector_size(64)));
};
template <int kLanes>
using FloatVec = typename VecOf<kLanes>::type;

// Independent accumulators per thread: enough to cover FMA latency x pipes (4 x 2 on Zen 4/5 and
// recent Intel cores) so the loop runs at throughput, few enough to stay in registers.
inline constexpr int kFmaChains = 12;

template <int kLanes>
FloatVec<kLanes> load_vec(const float* p) {
  FloatVec<kLanes> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <int kLanes>
float horizontal_sum(FloatVec<kLanes> v) {
  float s = 0;
  for (int i = 0; i < kLanes; ++i) s += v[i];
  return s;
}

// Sum of p[0, n) with four accumulators (loads in flight); the tail beyond a multiple of
// 4 x kLanes is left out (the caller sizes n).
template <int kLanes>
float read_sum(const float* p, size_t n) {
  FloatVec<kLanes> a0{}, a1{}, a2{}, a3{};
  for (size_t i = 0; i + 4 * kLanes <= n; i += 4 * kLanes) {
    a0 += load_vec<kLanes>(p + i);
    a1 += load_vec<kLanes>(p + i + kLanes);
    a2 += load_vec<kLanes>(p + i + 2 * kLanes);
    a3 += load_vec<kLanes>(p + i + 3 * kLanes);
  }
  return horizontal_sum<kLanes>(a0 + a1 + a2 + a3);
}

// iters x kFmaChains x kLanes FMAs; the result depends on every one, so none is optimised away.
template <int kLanes>
float fma_chains(int64_t iters, float seed) {
  FloatVec<kLanes> acc[kFmaChains];
  for (int c = 0; c < kFmaChains; ++c) acc[c] = FloatVec<kLanes>{} + (seed + static_cast<float>(c));
  const FloatVec<kLanes> mul = FloatVec<kLanes>{} + 0.9999999f, add = FloatVec<kLanes>{} + 1e-7f;
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kFmaChains; ++c) acc[c] = acc[c] * mul + add;
  FloatVec<kLanes> total{};
  for (int c = 0; c < kFmaChains; ++c) total += acc[c];
  return horizontal_sum<kLanes>(total);
}

// One entry per tier: the per-ISA files return limit_loops<lanes>(name).
struct LimitLoops {
  const char* isa;
  int lanes;
  float (*read_sum)(const float* p, size_t n);
  float (*fma_chains)(int64_t iters, float seed);
};

template <int kLanes>
LimitLoops limit_loops(const char* isa) {
  return {isa, kLanes, read_sum<kLanes>, fma_chains<kLanes>};
}

LimitLoops limit_loops_scalar();
LimitLoops limit_loops_avx2();
LimitLoops limit_loops_avx512();

}  // namespace transformers::cli
