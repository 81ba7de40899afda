// GGML's "K-quant" super-blocks Q4_K, Q5_K and Q6_K: 256 elements each, in exactly GGML's byte
// layouts, so a GGUF tensor of one of these types is our block dtype byte for byte. Scalar code
// compiled without tier flags (as quant_blocks.h): quantized bytes never depend on the tier.
//
// Q4_K, 144 bytes: f16 d, f16 dmin, 12 bytes of packed 6-bit scales sc[8] and mins m[8] (one
// pair per sub-block of 32), 128 bytes of nibbles. Element e is in sub-block j = e / 32; byte
// 32 * (e / 64) + e % 32 holds it in its low nibble when j is even, its high nibble when odd.
//   x = d * sc[j] * q - dmin * m[j]
// Packing of the 12 scale bytes: for j < 4, byte j = sc[j] | (sc[j + 4] >> 4) << 6 and byte
// j + 4 = m[j] | (m[j + 4] >> 4) << 6; byte j + 8 = (sc[j + 4] & 15) | (m[j + 4] & 15) << 4.
// Q5_K, 176 bytes: Q4_K's 16 header bytes, 32 bytes qh, then Q4_K's 128 bytes of nibbles; the
//   fifth bit of element e is bit j (= e / 32) of qh[e % 32].  x = d * sc[j] * q - dmin * m[j]
// Q6_K, 210 bytes: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8 scales (one per
// 16 elements), f16 d. Element e: half h = e / 128, r = e % 128, quarter t = r / 32, l = r % 32;
// its low bits are the low (t < 2) or high (t >= 2) nibble of ql[64 h + 32 (t % 2) + l], its high
// bits are bits 2t, 2t + 1 of qh[32 h + l].                              x = d * sc[e / 16] * (q -
// 32)
#pragma once

#include <cstdint>

#include "transformers/core/dtype.h"

namespace transformers::cpu {

constexpr int64_t kKBlock = 256;  // elements per super-block
constexpr int64_t kQ4_KBytes = 144;
constexpr int64_t kQ5_KBytes = 176;
constexpr int64_t kQ6_KBytes = 210;

// f32 -> super-blocks (n a multiple of 256) with GGML's reference quantizers (quantize_row_*_ref,
// no importance matrix): Q4_K / Q5_K fit a scale and a min per 32 by a weighted least-squares
// search, then round the 8 scales and mins to 6 bits under one f16 d / dmin and re-round the
// elements; Q6_K fits a signed scale per 16, rounds them to int8 under one f16 d, re-rounds.
void quantize_q4_k(const float* x, void* out, int64_t n);
void quantize_q5_k(const float* x, void* out, int64_t n);
void quantize_q6_k(const float* x, void* out, int64_t n);
// The same formats by GGML's importance-weighted quantizers (quantize_row_*_impl, what llama.cpp's
// llama-quantize runs given an importance matrix): one row of n elements, importance[n] the
// row's input-column importances (the mean square of the activations each column multiplies,
// loading/importance_matrix.h). Q4_K / Q5_K weigh element i by importance[i] * sqrt(sigma2 + x[i]^2)
// and fit their 6-bit sub-block scales and mins to those weights; Q6_K weighs by importance[i].
void quantize_q4_k_weighted(const float* x, void* out, int64_t n, const float* importance);
void quantize_q5_k_weighted(const float* x, void* out, int64_t n, const float* importance);
void quantize_q6_k_weighted(const float* x, void* out, int64_t n, const float* importance);
// super-blocks -> f32, n elements.
void dequantize_q4_k(const void* in, float* out, int64_t n);
void dequantize_q5_k(const void* in, float* out, int64_t n);
void dequantize_q6_k(const void* in, float* out, int64_t n);

// A super-block as the integers its dot product with int8 activations multiplies (the scalar
// reference kernel's view of all three formats, reference.cpp):
//   x_e = d * sc[e / 16] * q[e] - dmin * m[e / 16]
// Q4_K / Q5_K: q the 4- or 5-bit value, sc and m the 6-bit scale and min of e's sub-block of 32
// (one pair per 16, each repeated twice). Q6_K: q the 6 bits as stored (0..63), sc the int8
// scale, dmin = d and m = 32 * sc (the format's offset of 32).
struct KBlockIntegers {
  float d, dmin;
  uint8_t q[kKBlock];
  int32_t sc[16], m[16];
};
void decode_kblock(DType dt, const unsigned char* block, KBlockIntegers* out);

// Activations of the K-quant integer kernels (ActivationFormat::Int8KBlocks; llama.cpp's Q8_K in
// a layout of ours): one row of K (a multiple of 256) in kquant_activation_row_bytes(K) bytes:
// K int8 q, then K / 256 f32 scales d (d = amax / 127 of the super-block, q = round(x / d), as
// quantize_int8), then K / 16 int16 sums of q per 16 elements: the min term of Q4_K / Q5_K and
// the offset of Q6_K (sum_e m[e / 16] q_x[e]) need only these. Quantized once per linear call.
constexpr int64_t kKSumGroup = 16;
constexpr int64_t kquant_activation_row_bytes(int64_t K) { return K + K / kKBlock * 4 + K / kKSumGroup * 2; }
void quantize_activations_k(const float* x, int64_t M, int64_t K, int64_t ldx, void* out);

}  // namespace transformers::cpu
