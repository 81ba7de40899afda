// GGML's scale searches, shared by the block quantizers (quant_blocks.cpp, quant_kblocks.cpp):
// each fits one group of floats to integers under a scale (and a min) by trying a few grids and
// keeping the one of least weighted squared error. Float arithmetic in GGML's order of
// operations, so the bytes of every quantizer built on them match llama.cpp's own (checked in the
// tests against llama.cpp's ggml_quantize_chunk). Scalar code, built without tier flags.
#pragma once

#include <cstdint>
#include <cstring>

#include "transformers/ops/cpu/isa.h"

namespace transformers::cpu {

// Round half to even for |v| <= 2^22 - 1, by GGML's own trick (nearest_int): adding 1.5 * 2^23
// leaves the rounded integer in the low mantissa bits. Inline and free of library calls (the
// baseline x86-64 these files build for has no rounding instruction).
inline int nearest_int(float v) {
  const float shifted = v + 12582912.0f;
  int bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// Fits x[0, n) ~ scale * L - min with integers L in [0, nmax] and min >= 0, weighting element i
// by w[i]: the plain min/max grid first, then nstep + 1 grids of (nmax + rmin + rdelta * i)
// steps, each refined by the weighted least-squares scale and min of its L (GGML's
// make_qkx2_quants, and make_qkx3_quants, which is the same search given weights). Returns the
// scale; sets *min_out and L (n <= 32).
float fit_scale_min(const float* x, const float* w, int n, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                    float* min_out);

// Fits x[0, n) ~ scale * (L - nmax) with L - nmax in [-nmax, nmax - 1]: the grid through the
// element largest in magnitude, then 18 neighbouring grids, keeping the one of best weighted fit
// (GGML's make_qx_quants, rmse_type 1). Element i weighs w[i], or x[i]^2 when w is null. Returns
// the scale (0 and L = 0 for a group of zeros).
float fit_signed_scale(const float* x, const float* w, int n, int nmax, uint8_t* L);

// Fits non-negative x[0, n) ~ scale * L with L in [0, nmax], weighting element i by w[i]: the
// best of 9 grids around nmax / max, then up to 5 rounds moving single L to lower the weighted
// error (GGML's make_qp_quants, which the importance-weighted K-quants use for their 6-bit
// sub-block scales and mins). Returns the scale.
float fit_positive_scale(const float* x, const float* w, int n, int nmax, uint8_t* L);

// The first two searches over `groups` groups of n <= 32 floats at once (x, w and L group-major;
// one scale, and min, per group): what the quantizers call. The vector tiers run one group per
// lane, each lane in the scalar order (quant_search_simd.inl, built without FMA contraction), so
// every tier's results are bit-identical to the scalar loop's and quantized bytes never depend on
// the CPU.
struct QuantSearch {
  void (*fit_scale_min_groups)(const float* x, const float* w, int groups, int n, int nmax, float rmin, float rdelta,
                               int nstep, uint8_t* L, float* scales, float* mins);
  // w null: each element weighs x^2.
  void (*fit_signed_scale_groups)(const float* x, const float* w, int groups, int n, int nmax, uint8_t* L,
                                  float* scales);
};
// A tier's searches (nullptr when this CPU lacks the tier), and those of selected_isa().
const QuantSearch* quant_search_for(Isa isa);
const QuantSearch& quant_search();

}  // namespace transformers::cpu
