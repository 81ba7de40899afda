// The vector kernels, written once in the SIMD vocabulary of simd_<tier>.h and compiled once per
// tier: kernels_avx2.cpp and kernels_avx512.cpp define TCPP_TIER (the namespace) and
// TCPP_TIER_ISA, include their simd header, then this file. Everything here lives in the tier's
// namespace and uses no inline function from outside it (std::exp and friends are library calls),
// so the linker can never pick an AVX-512 copy of a function for code running on another tier.
//
// Sums accumulate in f32 vectors; tests (tests/ops/kernels_test.cpp) compare every kernel of
// every tier with the scalar reference, which accumulates in double.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "transformers/ops/cpu/bnb_blocks.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/llm_int8.h"
#include "transformers/ops/cpu/prequant_blocks.h"
#include "transformers/ops/cpu/quant_blocks.h"
#include "transformers/ops/cpu/quant_kblocks.h"

#ifndef TCPP_TIER
#error "define TCPP_TIER and TCPP_TIER_ISA, include the tier's simd header, then this file"
#endif

namespace transformers::cpu::TCPP_TIER {
namespace {

// ---------------------------------------------------------------------------------------------
// Scalars and the vector math the kernels share.

inline float bf16_scalar(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline float f16_scalar(uint16_t h) { return _cvtsh_ss(h); }
// f32 -> bf16, round to nearest even with quiet NaNs, as PyTorch.
inline uint16_t bf16_round_scalar(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return (u & 0x7fffffffu) > 0x7f800000u ? static_cast<uint16_t>((u >> 16) | 0x40)
                                         : static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

template <DType DT>
inline float load1(const void* w, int64_t i) {
  if constexpr (DT == DType::F32) return static_cast<const float*>(w)[i];
  if constexpr (DT == DType::BF16) return bf16_scalar(static_cast<const uint16_t*>(w)[i]);
  if constexpr (DT == DType::F16) return f16_scalar(static_cast<const uint16_t*>(w)[i]);
}

template <DType DT>
inline vf loadw(const void* w, int64_t i) {
  if constexpr (DT == DType::F32) return vload(static_cast<const float*>(w) + i);
  if constexpr (DT == DType::BF16) return vload_bf16(static_cast<const uint16_t*>(w) + i);
  if constexpr (DT == DType::F16) return vload_f16(static_cast<const uint16_t*>(w) + i);
}

template <DType DT>
constexpr int64_t kElemBytes = DT == DType::F32 ? 4 : 2;

// exp(x), Cephes-style: range reduction by ln2 and a degree-5 polynomial; relative error about
// 2 ulp over the float range, inputs below -87.3 give 0.
inline vf vexp(vf x) {
  const vf lo = vset1(-87.3365447504019f);
  vf r = vmax(vmin(x, vset1(88.3762626647949f)), lo);
  const vf fx = vround(vmul(r, vset1(1.44269504088896341f)));
  r = vfnmadd(fx, vset1(0.693359375f), r);
  r = vfnmadd(fx, vset1(-2.12194440e-4f), r);
  const vf z = vmul(r, r);
  vf y = vset1(1.9875691500E-4f);
  y = vfmadd(y, r, vset1(1.3981999507E-3f));
  y = vfmadd(y, r, vset1(8.3334519073E-3f));
  y = vfmadd(y, r, vset1(4.1665795894E-2f));
  y = vfmadd(y, r, vset1(1.6666665459E-1f));
  y = vfmadd(y, r, vset1(5.0000001201E-1f));
  y = vadd(vfmadd(y, z, r), vset1(1.0f));
  return vzero_below(vmul(y, vexp2_int(fx)), x, lo);
}

inline vf vsigmoid(vf x) { return vdiv(vset1(1.0f), vadd(vset1(1.0f), vexp(vsub(vzero(), x)))); }

// gelu_tanh(x) = x * sigmoid(2 * sqrt(2/pi) * (x + 0.044715 x^3)).
inline vf vgelu_tanh(vf v) {
  const vf inner = vfmadd(vmul(vset1(0.044715f), vmul(v, v)), v, v);
  return vmul(v, vsigmoid(vmul(vset1(2.0f * 0.7978845608028654f), inner)));
}

float silu1(float v) { return v / (1.0f + std::exp(-v)); }
float gelu_tanh1(float v) {
  const float c = 0.7978845608028654f;
  return 0.5f * v * (1.0f + std::tanh(c * (v + 0.044715f * v * v * v)));
}

// ---------------------------------------------------------------------------------------------
// Maps and row reductions.

float dot(const float* a, const float* b, int64_t n) {
  vf acc0 = vzero(), acc1 = vzero();
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    acc0 = vfmadd(vload(a + i), vload(b + i), acc0);
    acc1 = vfmadd(vload(a + i + kLanes), vload(b + i + kLanes), acc1);
  }
  for (; i + kLanes <= n; i += kLanes) acc0 = vfmadd(vload(a + i), vload(b + i), acc0);
  float s = vhsum(vadd(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// out[i] = f(a[i], b[i]) with a vector and a scalar form of f.
template <typename VF, typename SF>
inline void map2(const float* a, const float* b, float* out, int64_t n, VF vfn, SF sfn) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) vstore(out + i, vfn(vload(a + i), vload(b + i)));
  for (; i < n; ++i) out[i] = sfn(a[i], b[i]);
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  const vf va = vset1(alpha);
  map2(x, y, y, n, [&](vf xv, vf yv) { return vfmadd(va, xv, yv); }, [&](float xs, float ys) { return ys + alpha * xs; });
}
void add(const float* a, const float* b, float* out, int64_t n) {
  map2(a, b, out, n, [](vf x, vf y) { return vadd(x, y); }, [](float x, float y) { return x + y; });
}
void mul(const float* a, const float* b, float* out, int64_t n) {
  map2(a, b, out, n, [](vf x, vf y) { return vmul(x, y); }, [](float x, float y) { return x * y; });
}
void scale(const float* a, float s, float* out, int64_t n) {
  const vf vs = vset1(s);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) vstore(out + i, vmul(vload(a + i), vs));
  for (; i < n; ++i) out[i] = a[i] * s;
}

void rms_norm_row(const float* x, const float* w, float eps, bool unit_offset, float* out, int64_t n) {
  const float inv = 1.0f / std::sqrt(dot(x, x, n) / static_cast<float>(n) + eps);
  const vf vinv = vset1(inv), one = vset1(unit_offset ? 1.0f : 0.0f);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) vstore(out + i, vmul(vmul(vload(x + i), vinv), vadd(vload(w + i), one)));
  for (; i < n; ++i) out[i] = x[i] * inv * (unit_offset ? 1.0f + w[i] : w[i]);
}

void layer_norm_row(const float* x, const float* w, const float* b, float eps, float* out, int64_t n) {
  vf acc = vzero();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) acc = vadd(acc, vload(x + i));
  float sum = vhsum(acc);
  for (; i < n; ++i) sum += x[i];
  const float mean = sum / static_cast<float>(n);
  const vf vmean = vset1(mean);
  acc = vzero();
  for (i = 0; i + kLanes <= n; i += kLanes) {
    const vf d = vsub(vload(x + i), vmean);
    acc = vfmadd(d, d, acc);
  }
  float var = vhsum(acc);
  for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float inv = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
  for (i = 0; i < n; ++i) {
    float v = (x[i] - mean) * inv;
    if (w) v *= w[i];
    if (b) v += b[i];
    out[i] = v;
  }
}

float exp_shift_sum(float* x, float shift, int64_t n) {
  const vf vs = vset1(shift);
  vf vsum = vzero();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const vf e = vexp(vsub(vload(x + i), vs));
    vstore(x + i, e);
    vsum = vadd(vsum, e);
  }
  float sum = vhsum(vsum);
  for (; i < n; ++i) sum += (x[i] = std::exp(x[i] - shift));
  return sum;
}

void softmax_row(float* x, int64_t n) {
  vf vm = vset1(-INFINITY);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) vm = vmax(vm, vload(x + i));
  float mx = vhmax(vm);
  for (; i < n; ++i) mx = std::max(mx, x[i]);
  if (mx == -INFINITY) {  // fully masked row (never used): zeros, as the reference
    for (i = 0; i < n; ++i) x[i] = 0.f;
    return;
  }
  scale(x, 1.0f / exp_shift_sum(x, mx, n), x, n);
}

void silu(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const vf v = vload(x + i);
    vstore(x + i, vmul(v, vsigmoid(v)));
  }
  for (; i < n; ++i) x[i] = silu1(x[i]);
}

void gelu(float* x, int64_t n) {
  // erf has no cheap vector form here; exact GELU is used by encoders only (BERT), off the hot path.
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

void gelu_tanh(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) vstore(x + i, vgelu_tanh(vload(x + i)));
  for (; i < n; ++i) x[i] = gelu_tanh1(x[i]);
}

void silu_mul(const float* g, const float* u, float* out, int64_t n) {
  map2(g, u, out, n, [](vf gv, vf uv) { return vmul(vmul(gv, vsigmoid(gv)), uv); },
       [](float gs, float us) { return silu1(gs) * us; });
}

void silu_mul_backward(const float* g, const float* u, const float* dy, float* dg, float* du, int64_t n) {
  const vf one = vset1(1.0f);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const vf gv = vload(g + i), s = vsigmoid(gv), d = vload(dy + i);
    if (dg) vstore(dg + i, vmul(vmul(d, vload(u + i)), vmul(s, vfmadd(gv, vsub(one, s), one))));
    if (du) vstore(du + i, vmul(d, vmul(gv, s)));
  }
  for (; i < n; ++i) {
    const float s = 1.0f / (1.0f + std::exp(-g[i]));
    if (dg) dg[i] = dy[i] * u[i] * (s * (1.0f + g[i] * (1.0f - s)));
    if (du) du[i] = dy[i] * (g[i] * s);
  }
}

void gelu_tanh_mul(const float* g, const float* u, float* out, int64_t n) {
  map2(g, u, out, n, [](vf gv, vf uv) { return vmul(vgelu_tanh(gv), uv); },
       [](float gs, float us) { return gelu_tanh1(gs) * us; });
}

// ---------------------------------------------------------------------------------------------
// Conversions.

template <DType DT>
void dequant_rows(const void* w, int64_t K, int64_t row0, int64_t rows, float* out) {
  const int64_t n = rows * K;
  const char* src = static_cast<const char*>(w) + row0 * K * kElemBytes<DT>;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) vstore(out + i, loadw<DT>(src, i));
  for (; i < n; ++i) out[i] = load1<DT>(src, i);
}

void to_f32(const void* src, DType dt, float* dst, int64_t n) {
  switch (dt) {
    case DType::F32: dequant_rows<DType::F32>(src, n, 0, 1, dst); return;
    case DType::BF16: dequant_rows<DType::BF16>(src, n, 0, 1, dst); return;
    case DType::F16: dequant_rows<DType::F16>(src, n, 0, 1, dst); return;
    default:  // every other dtype, block formats included, is refused below
      break;
  }
  throw_not_float(dt, "to_f32");
}

void from_f32(const float* src, void* dst, DType dt, int64_t n) {
  switch (dt) {
    case DType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case DType::BF16: {
      // Round to nearest even with quiet NaNs, as PyTorch. Vectorised: a checkpoint stored in f32
      // and run in bf16 goes through here whole at load (Qwen2.5-0.5B: 494 M weights).
      auto* d = static_cast<uint16_t*>(dst);
      int64_t i = 0;
      for (; i + kLanes <= n; i += kLanes) vstore_bf16(d + i, vload(src + i));
      for (; i < n; ++i) d[i] = bf16_round_scalar(src[i]);
      return;
    }
    case DType::F16: {
      auto* d = static_cast<uint16_t*>(dst);
      int64_t i = 0;
      for (; i + kLanes <= n; i += kLanes) vstore_f16(d + i, vload(src + i));
      for (; i < n; ++i) d[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
      return;
    }
    default:  // every other dtype, block formats included, is refused below
      break;
  }
  throw_not_float(dt, "from_f32");
}

// ---------------------------------------------------------------------------------------------
// GEMV: few rows of x, each row of W streamed once (token generation's memory-bound product).

// How far ahead of the loads W is prefetched, with the non-temporal hint. Without it, a weight
// stream evicts x from L1 once x passes ~16 KiB (K > 4096): bf16 GEMV at K = 8192 fell from
// ~30 to ~13 GB/s. NTA lines displace little, and a long distance covers DRAM latency
// (measured on Zen: 4 KiB best for f32, 8 KiB for 16-bit weights; past a row's end it fetches
// the next row, which is the next one read).
template <DType DT>
constexpr int64_t kPrefetchBytes = DT == DType::F32 ? 4096 : 8192;

// y[m0..m0+MB, n] = x[m0..m0+MB] · W[n] for one row of W: every weight vector loaded (and
// converted) once feeds MB rows of x. With MB == 1 (decode) four accumulators hide the FMA
// latency; with more rows of x, MB x 2 accumulators do.
template <DType DT, int MB>
void gemv_row(const float* x, int64_t K, int64_t ldx, const void* wr, float* out, int64_t ldy) {
  constexpr int U = MB == 1 ? 4 : 2;
  constexpr int64_t step = kLanes * U;
  constexpr int64_t step_bytes = step * kElemBytes<DT>;
  vf acc[MB][U];
  for (int m = 0; m < MB; ++m)
    for (int u = 0; u < U; ++u) acc[m][u] = vzero();
  const char* wbytes = static_cast<const char*>(wr);
  int64_t k = 0;
  for (; k + step <= K; k += step) {
    const char* ahead = wbytes + k * kElemBytes<DT> + kPrefetchBytes<DT>;
    for (int64_t off = 0; off < step_bytes; off += 64) prefetch_nta(ahead + off);
    for (int u = 0; u < U; ++u) {
      const vf wv = loadw<DT>(wr, k + kLanes * u);
      for (int m = 0; m < MB; ++m) acc[m][u] = vfmadd(vload(x + m * ldx + k + kLanes * u), wv, acc[m][u]);
    }
  }
  for (; k + kLanes <= K; k += kLanes) {
    const vf wv = loadw<DT>(wr, k);
    for (int m = 0; m < MB; ++m) acc[m][0] = vfmadd(vload(x + m * ldx + k), wv, acc[m][0]);
  }
  for (int m = 0; m < MB; ++m) {
    vf a = acc[m][0];
    for (int u = 1; u < U; ++u) a = vadd(a, acc[m][u]);
    float s = vhsum(a);
    for (int64_t kk = k; kk < K; ++kk) s += x[m * ldx + kk] * load1<DT>(wr, kk);
    out[m * ldy] = s;
  }
}

// One W row at a time: a single sequential stream per thread is what the hardware prefetcher
// follows best (interleaving 2-4 rows measured 1.5-2x slower for bf16 weights on Zen).
template <DType DT>
void gemv(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
          int64_t ldy) {
  for (int64_t n = n0; n < n1; ++n) {
    const void* wr = static_cast<const char*>(w) + n * K * kElemBytes<DT>;
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) gemv_row<DT, 4>(x + m * ldx, K, ldx, wr, y + m * ldy + n, ldy);
    switch (M - m) {
      case 3: gemv_row<DT, 3>(x + m * ldx, K, ldx, wr, y + m * ldy + n, ldy); break;
      case 2: gemv_row<DT, 2>(x + m * ldx, K, ldx, wr, y + m * ldy + n, ldy); break;
      case 1: gemv_row<DT, 1>(x + m * ldx, K, ldx, wr, y + m * ldy + n, ldy); break;
      default: break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM of bf16/f16 weights (f32 weights have the strip GEMM, kernels_gemm_strips.inl; every
// float format has the small-M GEMM below): many rows of x. A tile of MR rows of x by NR rows of
// W accumulates MR x NR vectors along K (every x vector feeds NR products, every W vector MR),
// then reduces each to a sum.
// W is read in its stored format and converted in registers, so no packed copy of the weights is
// made; x is read in place. K is cut into blocks so that the x rows of a block stay in L2 and the
// W rows of a tile in L1 while the tile walks down M.

#ifndef TCPP_GEMM_MR
#error "the tier's simd header defines the GEMM tile (TCPP_GEMM_MR x TCPP_GEMM_NR)"
#endif
constexpr int kMR = TCPP_GEMM_MR, kNR = TCPP_GEMM_NR;
// The small-M tile (gemm_small below): as many rows of x as the registers allow beside a few W
// rows, so that a batch of decode rows (8 on AVX-512) reads every W vector once.
constexpr int kSmallMR = TCPP_SMALL_GEMM_MR, kSmallNR = TCPP_SMALL_GEMM_NR;
// K per block: each block ends with a reduction of the tile's accumulators, so longer is cheaper,
// while the x rows of a block must stay in L2 (128 x 1024 x 4 B = 512 KiB; CPUs with AVX-512 have
// 1-2 MiB of L2). 1024 measured ~5-10% above 512 on Zen 5 (M=128, K=896/4864).
constexpr int64_t kGemmKBlock = 1024;
constexpr int64_t kGemmMBlock = 128;  // rows of x per block (W streamed from memory once per block)

// The MR x NR sums of a finished tile added to (or stored in) y.
template <int MR, int NR>
inline void store_tile(vf (&acc)[MR][NR], float* y, int64_t ldy, bool accumulate) {
  // Unrolled, so that the accumulators never need a place in memory: a rolled loop here made GCC
  // keep the BF16 tile's accumulators on the stack and store them on every step of K.
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float s[NR];
    int j = 0;
    for (; j + 4 <= NR; j += 4) vhsum4(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3], s + j);
    for (; j < NR; ++j) s[j] = vhsum(acc[i][j]);
    for (j = 0; j < NR; ++j) y[i * ldy + j] = accumulate ? y[i * ldy + j] + s[j] : s[j];
  }
}

// The small-M GEMM streams W panel by panel (kSmallNR rows at a time, each row read once): rows
// that short (a few KiB) end before the hardware prefetcher has locked on to them, and W's read
// rate halved. So while a tile works on one panel it prefetches the next one (`next`, nullptr
// when there is none), at the same rows and K offset: one panel ahead, which covers DRAM latency.
// Always inlined: GCC deems a function that only prefetches free of effects, and an out-of-line
// copy (its partial inliner made one) had every call to it deleted.
template <int NR>
[[gnu::always_inline]] inline void prefetch_panel(const void* next, int64_t K, int64_t k, int64_t elem_bytes) {
  if (!next) return;
  for (int j = 0; j < NR; ++j) prefetch_l1(static_cast<const char*>(next) + (j * K + k) * elem_bytes);
}

// One tile over K [k0, k0 + kb): x f32, W in its stored format converted in registers.
template <DType DT>
struct FloatTile {
  using X = float;
  static constexpr int64_t kKAlign = kLanes;
  template <int MR, int NR>
  static void run(const float* x, int64_t ldx, const void* w, int64_t K, int64_t k0, int64_t kb, float* y, int64_t ldy,
                  bool accumulate, const void* next) {
    vf acc[MR][NR];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] = vzero();
    const int64_t kv = kb / kLanes * kLanes;
    for (int64_t k = k0; k < k0 + kv; k += kLanes) {
      prefetch_panel<NR>(next, K, k, kElemBytes<DT>);
      vf wv[NR];
      for (int j = 0; j < NR; ++j) wv[j] = loadw<DT>(w, j * K + k);
      for (int i = 0; i < MR; ++i) {
        const vf xv = vload(x + i * ldx + k);
        for (int j = 0; j < NR; ++j) acc[i][j] = vfmadd(xv, wv[j], acc[i][j]);
      }
    }
    if (kv < kb) {  // the K tail: scalar products folded into lane 0 of each accumulator
      for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) {
          float t = 0.0f;
          for (int64_t k = k0 + kv; k < k0 + kb; ++k) t += x[i * ldx + k] * load1<DT>(w, j * K + k);
          acc[i][j] = vadd(acc[i][j], vscalar_lane0(t));
        }
    }
    store_tile(acc, y, ldy, accumulate);
  }
};

// tiles[mr - 1][nr - 1] is the (mr, nr) tile: full tiles in the bulk, smaller ones at the edges.
template <typename Tile>
using TileFn = void (*)(const typename Tile::X*, int64_t, const void*, int64_t, int64_t, int64_t, float*, int64_t, bool,
                        const void*);
template <typename Tile, int MR, int NR>
struct TileTable {
  TileFn<Tile> fn[MR][NR];
};
template <typename Tile, int NRmax, int MR, int... NRs>
constexpr void fill_tile_row(TileFn<Tile> (&row)[NRmax], std::integer_sequence<int, NRs...>) {
  ((row[NRs] = &Tile::template run<MR, NRs + 1>), ...);
}
template <typename Tile, int NRmax, int MRmax, int... MRs>
constexpr TileTable<Tile, MRmax, NRmax> make_tiles(std::integer_sequence<int, MRs...>) {
  TileTable<Tile, MRmax, NRmax> t{};
  (fill_tile_row<Tile, NRmax, MRs + 1>(t.fn[MRs], std::make_integer_sequence<int, NRmax>{}), ...);
  return t;
}
template <typename Tile, int MR, int NR>
constexpr TileTable<Tile, MR, NR> kTiles = make_tiles<Tile, NR, MR>(std::make_integer_sequence<int, MR>{});

// The blocking loop around the tiles: rows of x in blocks of kGemmMBlock, K in equal blocks of
// at most kGemmKBlock (a multiple of the tile's K step), W rows [n0, n1) in groups of kNR. The
// first tile of each group prefetches the next group (prefetch_panel): without it each group's
// rows came from DRAM on demand, and a Qwen2.5-0.5B f32 prompt of 128 tokens ran at 348 instead
// of 408 tokens/s (Zen 5, 2 threads; the kernel benchmark, whose weights stay in L3, hid it).
template <typename Tile>
void gemm_blocked(const typename Tile::X* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t w_elem_bytes,
                  int64_t n0, int64_t n1, float* y, int64_t ldy) {
  constexpr int64_t align = Tile::kKAlign;
  const int64_t k_blocks = (K + kGemmKBlock - 1) / kGemmKBlock;
  const int64_t kc = ((K + k_blocks - 1) / k_blocks + align - 1) / align * align;
  for (int64_t m0 = 0; m0 < M; m0 += kGemmMBlock) {
    const int64_t m1 = std::min(M, m0 + kGemmMBlock);
    for (int64_t k0 = 0; k0 < K; k0 += kc) {
      const int64_t kb = std::min(kc, K - k0);
      for (int64_t n = n0; n < n1; n += kNR) {
        const int nr = static_cast<int>(std::min<int64_t>(kNR, n1 - n));
        const char* wn = static_cast<const char*>(w) + n * K * w_elem_bytes;
        const char* next = n + kNR < n1 ? wn + kNR * K * w_elem_bytes
                           : k0 + kc < K ? static_cast<const char*>(w) + (n0 * K + kc) * w_elem_bytes
                                         : nullptr;
        for (int64_t m = m0; m < m1; m += kMR) {
          const int mr = static_cast<int>(std::min<int64_t>(kMR, m1 - m));
          kTiles<Tile, kMR, kNR>.fn[mr - 1][nr - 1](x + m * ldx, ldx, wn, K, k0, kb, y + m * ldy + n, ldy, k0 > 0,
                                                   m == m0 ? next : nullptr);
        }
      }
    }
  }
}

// The GEMM of a few rows of x (a decode step of several sequences, kSmallGemmMinRows <= M <=
// kSmallGemmMaxRows): W is walked once, panel by panel of kSmallNR rows, each panel prefetched
// while the one before it is multiplied, and each W vector loaded from memory once for up to
// kSmallMR rows of x (further rows of x re-read the panel from L1). K is cut into blocks whose
// kSmallMR x rows fit in a third of L1 beside two panels: with f32 x at K = 896 (28 KiB) x and
// W's panels evicted each other and 8 rows cost 3x one. Bandwidth-bound like the GEMV, with M
// products per weight instead of one.
constexpr int64_t kSmallGemmXBlockBytes = 16 << 10;
template <typename Tile>
void gemm_small(const typename Tile::X* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t w_elem_bytes,
                int64_t n0, int64_t n1, float* y, int64_t ldy) {
  constexpr int64_t align = Tile::kKAlign;
  constexpr int64_t max_kb =
      std::max<int64_t>(align, kSmallGemmXBlockBytes / (kSmallMR * int64_t{sizeof(typename Tile::X)}) / align * align);
  const int64_t k_blocks = (K + max_kb - 1) / max_kb;
  const int64_t kc = ((K + k_blocks - 1) / k_blocks + align - 1) / align * align;
  const char* w0 = static_cast<const char*>(w);
  for (int64_t k0 = 0; k0 < K; k0 += kc) {
    const int64_t kb = std::min(kc, K - k0);
    for (int64_t n = n0; n < n1; n += kSmallNR) {
      const int nr = static_cast<int>(std::min<int64_t>(kSmallNR, n1 - n));
      const char* wn = w0 + n * K * w_elem_bytes;
      // The tile prefetches next + (row * K + k) for its own k: the next panel of this K block,
      // or after the last panel the first panel of the next K block (shifted by one block).
      const char* next = n + kSmallNR < n1  ? wn + kSmallNR * K * w_elem_bytes
                         : k0 + kc < K      ? w0 + (n0 * K + kc) * w_elem_bytes
                                            : nullptr;
      for (int64_t m = 0; m < M; m += kSmallMR) {
        const int mr = static_cast<int>(std::min<int64_t>(kSmallMR, M - m));
        kTiles<Tile, kSmallMR, kSmallNR>.fn[mr - 1][nr - 1](x + m * ldx, ldx, wn, K, k0, kb, y + m * ldy + n, ldy,
                                                           k0 > 0, m == 0 ? next : nullptr);
      }
    }
  }
}

template <DType DT>
void small_gemm(const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
                int64_t ldy) {
  gemm_small<FloatTile<DT>>(static_cast<const float*>(x), M, K, ldx, w, kElemBytes<DT>, n0, n1, y, ldy);
}

template <DType DT>
void gemm(const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
          int64_t ldy) {
  gemm_blocked<FloatTile<DT>>(static_cast<const float*>(x), M, K, ldx, w, kElemBytes<DT>, n0, n1, y, ldy);
}

#if TCPP_TIER_BF16_DOT
// bf16 weights on a CPU with AVX512_BF16 (the tier file is compiled with -mavx512bf16; these
// instructions come only from the intrinsics below, which run only where bf16_dot_products_enabled()
// said the CPU has them): x is rounded to bf16 (as llama.cpp does for its BF16
// type, and as PyTorch's bf16 Linear sees bf16 activations), and VDPBF16PS multiplies 32 pairs
// per instruction into 16 f32 sums: twice the products of an f32 FMA. Sums stay f32.
struct Bf16DotTile {
  using X = uint16_t;
  static constexpr int64_t kKAlign = 32;
  template <int MR, int NR>
  static void run(const uint16_t* x, int64_t ldx, const void* wv, int64_t K, int64_t k0, int64_t kb, float* y,
                  int64_t ldy, bool accumulate, const void* next) {
    const auto* w = static_cast<const uint16_t*>(wv);
    vf acc[MR][NR];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] = vzero();
    // The K tail is read through a mask: the missing pairs are zeros and add nothing.
    for (int64_t k = k0; k < k0 + kb; k += 32) {
      prefetch_panel<NR>(next, K, k, 2);
      const __mmask32 mask = _cvtu32_mask32(k + 32 <= k0 + kb ? ~0u : (1u << (k0 + kb - k)) - 1);
      __m512i wr[NR];
      for (int j = 0; j < NR; ++j) wr[j] = _mm512_maskz_loadu_epi16(mask, w + j * K + k);
      for (int i = 0; i < MR; ++i) {
        const __m512i xr = _mm512_maskz_loadu_epi16(mask, x + i * ldx + k);
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)xr, (__m512bh)wr[j]);
      }
    }
    store_tile(acc, y, ldy, accumulate);
  }
};

// x [M, K] f32 -> bf16 (round to nearest even, NaN kept quiet; the instruction reads subnormal
// inputs as zero), contiguous in out.
void round_to_bf16(const float* x, int64_t M, int64_t K, int64_t ldx, void* out_v) {
  auto* out = static_cast<uint16_t*>(out_v);
  for (int64_t m = 0; m < M; ++m) {
    const float* row = x + m * ldx;
    uint16_t* o = out + m * K;
    int64_t k = 0;
    for (; k + 32 <= K; k += 32)
      _mm512_storeu_si512(o + k, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(vload(row + k + 16), vload(row + k))));
    for (; k < K; ++k) o[k] = bf16_round_scalar(row[k]);
  }
}

void gemm_bf16_dot(const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
                   int64_t ldy) {
  gemm_blocked<Bf16DotTile>(static_cast<const uint16_t*>(x), M, K, ldx, w, 2, n0, n1, y, ldy);
}
void small_gemm_bf16_dot(const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1,
                         float* y, int64_t ldy) {
  gemm_small<Bf16DotTile>(static_cast<const uint16_t*>(x), M, K, ldx, w, 2, n0, n1, y, ldy);
}
#endif

// ---------------------------------------------------------------------------------------------
// Attention tiles (ops/attention.cpp): S = Q Kᵀ as register-blocked dot products (2 query rows x
// 4 keys share every load), O += P V as 4 rows x 2 vectors of value columns, read in place with
// any row stride, so K and V are used straight from the cache tensors without packing.

template <int RI, int RJ>
void dot_block(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t n, float* out, int64_t ldo) {
  vf acc[RI][RJ];
  for (int i = 0; i < RI; ++i)
    for (int j = 0; j < RJ; ++j) acc[i][j] = vzero();
  const int64_t nv = n / kLanes * kLanes;
  for (int64_t d = 0; d < nv; d += kLanes) {
    vf bv[RJ];
    for (int j = 0; j < RJ; ++j) bv[j] = vload(b + j * ldb + d);
    for (int i = 0; i < RI; ++i) {
      const vf av = vload(a + i * lda + d);
      for (int j = 0; j < RJ; ++j) acc[i][j] = vfmadd(av, bv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < RI; ++i) {
    float s[RJ];
    if constexpr (RJ == 4) {
      vhsum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3], s);
    } else {
      for (int j = 0; j < RJ; ++j) s[j] = vhsum(acc[i][j]);
    }
    for (int j = 0; j < RJ; ++j) {
      for (int64_t d = nv; d < n; ++d) s[j] += a[i * lda + d] * b[j * ldb + d];
      out[i * ldo + j] = s[j];
    }
  }
}

template <int RI>
void dot_rows(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t rows_b, int64_t n, float* out,
              int64_t ldo) {
  int64_t j = 0;
  for (; j + 4 <= rows_b; j += 4) dot_block<RI, 4>(a, lda, b + j * ldb, ldb, n, out + j, ldo);
  switch (rows_b - j) {
    case 3: dot_block<RI, 3>(a, lda, b + j * ldb, ldb, n, out + j, ldo); break;
    case 2: dot_block<RI, 2>(a, lda, b + j * ldb, ldb, n, out + j, ldo); break;
    case 1: dot_block<RI, 1>(a, lda, b + j * ldb, ldb, n, out + j, ldo); break;
    default: break;
  }
}

void dot_tile(const float* a, int64_t lda, int64_t rows_a, const float* b, int64_t ldb, int64_t rows_b, int64_t n,
              float* out, int64_t ldo) {
  int64_t i = 0;
  for (; i + 2 <= rows_a; i += 2) dot_rows<2>(a + i * lda, lda, b, ldb, rows_b, n, out + i * ldo, ldo);
  if (i < rows_a) dot_rows<1>(a + i * lda, lda, b, ldb, rows_b, n, out + i * ldo, ldo);
}

// y[RI rows][V vectors of columns] += p[RI rows][0 .. cols) · v[0 .. cols)[columns].
template <int RI, int V>
void acc_block(const float* p, int64_t ldp, int64_t cols, const float* v, int64_t ldv, float* y, int64_t ldy) {
  vf acc[RI][V];
  for (int i = 0; i < RI; ++i)
    for (int u = 0; u < V; ++u) acc[i][u] = vload(y + i * ldy + kLanes * u);
  for (int64_t j = 0; j < cols; ++j) {
    vf vv[V];
    for (int u = 0; u < V; ++u) vv[u] = vload(v + j * ldv + kLanes * u);
    for (int i = 0; i < RI; ++i) {
      const vf pb = vset1(p[i * ldp + j]);
      for (int u = 0; u < V; ++u) acc[i][u] = vfmadd(pb, vv[u], acc[i][u]);
    }
  }
  for (int i = 0; i < RI; ++i)
    for (int u = 0; u < V; ++u) vstore(y + i * ldy + kLanes * u, acc[i][u]);
}

template <int RI>
void acc_rows(const float* p, int64_t ldp, int64_t cols, const float* v, int64_t ldv, float* y, int64_t ldy,
              int64_t n) {
  int64_t d = 0;
  for (; d + 2 * kLanes <= n; d += 2 * kLanes) acc_block<RI, 2>(p, ldp, cols, v + d, ldv, y + d, ldy);
  for (; d + kLanes <= n; d += kLanes) acc_block<RI, 1>(p, ldp, cols, v + d, ldv, y + d, ldy);
  for (; d < n; ++d)
    for (int i = 0; i < RI; ++i) {
      float s = y[i * ldy + d];
      for (int64_t j = 0; j < cols; ++j) s += p[i * ldp + j] * v[j * ldv + d];
      y[i * ldy + d] = s;
    }
}

void matmul_acc_tile(const float* p, int64_t ldp, int64_t rows, int64_t cols, const float* v, int64_t ldv, float* y,
                     int64_t ldy, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) acc_rows<4>(p + i * ldp, ldp, cols, v, ldv, y + i * ldy, ldy, n);
  switch (rows - i) {
    case 3: acc_rows<3>(p + i * ldp, ldp, cols, v, ldv, y + i * ldy, ldy, n); break;
    case 2: acc_rows<2>(p + i * ldp, ldp, cols, v, ldv, y + i * ldy, ldy, n); break;
    case 1: acc_rows<1>(p + i * ldp, ldp, cols, v, ldv, y + i * ldy, ldy, n); break;
    default: break;
  }
}

// Transposes in 8 x 8 blocks held in eight 256-bit registers (both vector tiers have AVX2: the
// AVX-512 tier uses the same block), the edges element by element. A strip of 8 rows of src is
// read sequentially while each dst row gets 32 contiguous bytes; the next strip fills the other
// half of those lines while they are still in L2 (a row of dst lines is cols x 64 bytes).
inline void transpose_8x8(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // a0 b0 a1 b1 | a4 b4 a5 b5
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // a2 b2 a3 b3 | a6 b6 a7 b7
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));      // a0 b0 c0 d0 | a4 ..
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));  // a1 b1 c1 d1 | a5 ..
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; ++j) {
    _mm256_storeu_ps(dst + j * ldd, _mm256_permute2f128_ps(u[j], u[j + 4], 0x20));
    _mm256_storeu_ps(dst + (j + 4) * ldd, _mm256_permute2f128_ps(u[j], u[j + 4], 0x31));
  }
}

void transpose(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst, int64_t ldd) {
  const int64_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
  for (int64_t r = 0; r < rows8; r += 8) {
    for (int64_t c = 0; c < cols8; c += 8) transpose_8x8(src + r * lds + c, lds, dst + c * ldd + r, ldd);
    for (int64_t c = cols8; c < cols; ++c)
      for (int64_t i = r; i < r + 8; ++i) dst[c * ldd + i] = src[i * lds + c];
  }
  for (int64_t r = rows8; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * ldd + r] = src[r * lds + c];
}

#include "transformers/ops/cpu/kernels_gemm_strips.inl"
#include "transformers/ops/cpu/kernels_quant.inl"
#include "transformers/ops/cpu/kernels_kquant.inl"

template <DType DT>
WeightKernels weight_kernels(bool own_gemm) {
  using Act = WeightFormat::ActivationFormat;
  // Every tier has its own small-M GEMM: BLAS would convert W to f32 blocks first.
  WeightKernels k{gemv<DT>, own_gemm ? gemm<DT> : nullptr, dequant_rows<DT>, Act::F32, nullptr, small_gemm<DT>};
  // f32 weights: outer products on x packed once per call (kernels_gemm_strips.inl), on every tier.
  if (DT == DType::F32) {
    k.gemm = gemm_strips;
    k.gemm_activation = Act::F32Strips;
    k.convert_x = pack_strips;
  }
#if TCPP_TIER_BF16_DOT
  if (DT == DType::BF16 && bf16_dot_products_enabled()) {
    k.gemm = gemm_bf16_dot;
    k.small_gemm = small_gemm_bf16_dot;
    k.gemm_activation = Act::BF16;
    k.convert_x = round_to_bf16;
  }
#endif
  return k;
}

}  // namespace

// The tier's table. TCPP_TIER_OWN_GEMM: whether prefill uses the GEMM above or BLAS sgemm on
// converted blocks (whichever measured faster on the tier, bench/kernels.cpp).
const Kernels& tier_kernels() {
  static const Kernels k{
      isa_name(TCPP_TIER_ISA),
      TCPP_TIER_ISA,
      {weight_kernels<DType::F32>(TCPP_TIER_OWN_GEMM), weight_kernels<DType::BF16>(TCPP_TIER_OWN_GEMM),
       weight_kernels<DType::F16>(TCPP_TIER_OWN_GEMM), quantized_weight_kernels<DType::Q8_0>(),
       quantized_weight_kernels<DType::Q4_0>(), lookup_weight_kernels<DType::Q4_Z>(),
       lookup_weight_kernels<DType::F8_B128>(), lookup_weight_kernels<DType::MXFP4>(),
       lookup_weight_kernels<DType::NF4>(), lookup_weight_kernels<DType::FP4>(),
       kquant_weight_kernels<DType::Q4_K>(), kquant_weight_kernels<DType::Q5_K>(),
       kquant_weight_kernels<DType::Q6_K>(), llm_int8_tier_kernels(), quantized_weight_kernels<DType::Q5_0>(),
       quantized_weight_kernels<DType::Q5_1>()},
      linear_on<TCPP_TIER_ISA>,
      dot, axpy, add, mul, scale, rms_norm_row, layer_norm_row, softmax_row, silu, gelu, gelu_tanh, silu_mul,
      gelu_tanh_mul, to_f32, from_f32, dot_tile, matmul_acc_tile, exp_shift_sum, transpose,
      silu_mul_backward};
  return k;
}

}  // namespace transformers::cpu::TCPP_TIER
