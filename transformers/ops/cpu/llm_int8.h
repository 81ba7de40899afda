// LLM.int8 (bitsandbytes' Int8Params weights and MatMul8bitLt product; Dettmers et al. 2022) as
// the block dtype LLM_INT8 (core/dtype.h has the byte layout).
//
// Weights, as Int8Params quantizes them (int8_vectorwise_quant with no threshold): per output row
// SCB = max |W[n, :]| (f32) and CB = round(W * (127 / SCB)) (f32 product, round half to even); an
// all-zero row has SCB 0 and CB 0. Dequantized: (CB * SCB) * (1/127 in f32), as
// int8_vectorwise_dequant. Each 64-element block repeats its row's SCB (a block dtype has no
// per-row storage) and the outlier threshold, which bitsandbytes keeps per module (MatmulLtState):
// 72 bytes per 64 weights, where bitsandbytes stores 64 + 4/K-per-row.
//
// The product y = x Wᵀ, as MatMul8bitLt at inference (activations f32 here; bitsandbytes casts
// them to f16 first):
//   - outlier columns: every column k of x where some |x[m, k]| >= threshold (threshold > 0);
//   - x quantized row-wise: SCA[m] = max |x[m, k]| over the elements below the threshold,
//     CA = round(x * (127 / SCA)), then CA[:, outlier columns] = 0;
//   - y = float(CA · CBᵀ) * (SCA * SCB) * 6.200124e-05 (1/127², bitsandbytes' int8_mm_dequant)
//         + x[:, outliers] · dequant(W)[:, outliers]ᵀ (the columns in f32).
// The integer part sums exactly in int32: the AVX2 / AVX-512 tiers use llama.cpp's sign trick
// (maddubs + madd, 32 bytes a step; no VNNI path yet).
#pragma once

#include <cstdint>

#include "transformers/ops/cpu/kernels.h"

namespace transformers::cpu {

constexpr int64_t kInt8RowBlock = 64;
constexpr int64_t kInt8RowBlockBytes = 4 + 4 + kInt8RowBlock;  // f32 SCB, f32 threshold, 64 int8
constexpr float kLlmInt8DefaultThreshold = 6.0f;                // BitsAndBytesConfig's default

// One weight row of K elements (a multiple of 64) to blocks, with the given outlier threshold.
void quantize_llm_int8_row(const float* w, void* out, int64_t K, float threshold);
// The WeightFormat codec: quantize takes exactly ONE row (n = K; ops::cast calls it per row, see
// WeightFormat::row_scaled) with the default threshold; dequantize takes any whole blocks.
void quantize_llm_int8(const float* x, void* out, int64_t n);
void dequantize_llm_int8(const void* in, float* out, int64_t n);
// The threshold stored in a tensor's blocks (its first block's).
float llm_int8_threshold(const void* blocks);

// The int32 dot product of n int8 pairs: the scalar loop here, a tier's SIMD one in
// kernels_quant.inl (exact either way, so every tier gives the same sums).
using Int8Dot = int32_t (*)(const int8_t* a, const int8_t* b, int64_t n);
int32_t int8_dot_scalar(const int8_t* a, const int8_t* b, int64_t n);

// The mixed-precision product above for rows [n0, n1) of W; x f32 [M, K] with leading dimension
// ldx, the integer part summed by `dot`. Every tier's gemm (it takes every M).
void llm_int8_gemm_with(Int8Dot dot, const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0,
                        int64_t n1, float* y, int64_t ldy);
// ... with int8_dot_scalar: the reference's gemm.
void llm_int8_gemm(const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
                   int64_t ldy);
// The reference's kernels (gemm llm_int8_gemm); a tier replaces gemm with its own dot's.
WeightKernels llm_int8_weight_kernels();

}  // namespace transformers::cpu
