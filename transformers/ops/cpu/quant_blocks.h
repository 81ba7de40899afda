// GGML's Q8_0 and Q4_0 blocks (dtype.h has the byte layouts) and the int8 activation rows the
// quantized kernels multiply them with. Scalar code, compiled without tier flags: every tier calls
// these same functions, so quantized bytes never depend on the tier.
#pragma once

#include <cstdint>

namespace transformers::cpu {

constexpr int64_t kQBlock = 32;       // elements per block of Q8_0, Q4_0 and the activations
constexpr int64_t kQ8_0Bytes = 34;    // f16 d + 32 int8
constexpr int64_t kQ4_0Bytes = 18;    // f16 d + 16 bytes of nibbles
constexpr int64_t kQ5_0Bytes = 22;    // f16 d + 4 bytes of fifth bits + 16 bytes of nibbles
constexpr int64_t kQ5_1Bytes = 24;    // f16 d + f16 m + 4 bytes of fifth bits + 16 bytes of nibbles

// The f16 scales inside blocks (no alignment): stored rounded to nearest even, and read back.
void store_f16_scale(unsigned char* p, float v);
float load_f16_scale(const unsigned char* p);

// n floats to int8 with d = amax / 127, q = round(x / d) (half away from zero); returns d. The
// rounding of Q8_0 and of every int8 activation format (Q8_0's blocks of 32, the K-quants' 256).
float quantize_int8(const float* x, int64_t n, int8_t* q);

// f32 -> blocks, n a multiple of 32, GGML's reference rounding:
//   Q8_0 (quantize_row_q8_0_ref): d = amax / 127, q = round(x / d) (half away from zero).
//   Q4_0 (quantize_row_q4_0_ref): m = the element largest in magnitude, sign kept; d = m / -8,
//         q = min(15, (int)(x / d + 8.5)).
// d is stored as f16; q is computed with the unrounded 1/d, as GGML does.
void quantize_q8_0(const float* x, void* out, int64_t n);
void quantize_q4_0(const float* x, void* out, int64_t n);
// Q4_0 by GGML's importance-weighted quantizer (quantize_row_q4_0_impl): one row of n elements,
// importance[n] its input-column importances; element i weighs importance[i] * sqrt(sigma2 +
// x[i]^2), sigma2 the row's mean square, and each block's d is the best of 19 weighted grids
// (quant_search.h, fit_signed_scale). Q8_0 has no weighted form (GGML ignores the importances).
void quantize_q4_0_weighted(const float* x, void* out, int64_t n, const float* importance);
// GGML's 5-bit blocks, llama.cpp's fallback where a K-quant's rows are not whole 256s (Q4_K ->
// Q5_0, Q5_K -> Q5_1): reference quantizers (quantize_row_q5_0_ref: d = m / -16 of the element
// largest in magnitude, q = min(31, (int)(x / d + 16.5)); q5_1_ref: d = (max - min) / 31, m = min,
// q = (int)((x - min) / d + 0.5)) and the importance-weighted ones (q5_0_impl: fit_signed_scale,
// nmax 16; q5_1_impl: fit_scale_min, nmax 31, 37 grids; weights as Q4_0's).
void quantize_q5_0(const float* x, void* out, int64_t n);
void quantize_q5_1(const float* x, void* out, int64_t n);
void quantize_q5_0_weighted(const float* x, void* out, int64_t n, const float* importance);
void quantize_q5_1_weighted(const float* x, void* out, int64_t n, const float* importance);
// blocks -> f32, n elements.
void dequantize_q8_0(const void* in, float* out, int64_t n);
void dequantize_q4_0(const void* in, float* out, int64_t n);
void dequantize_q5_0(const void* in, float* out, int64_t n);
void dequantize_q5_1(const void* in, float* out, int64_t n);

// Activations for the integer dot products, one row of K (a multiple of 32) in
// activation_row_bytes(K) bytes: K int8 q, then K / 32 f32 scales d (d = amax / 127 of the block,
// q = round(x / d)): Q8_0's rounding with the scale kept in f32 (llama.cpp rounds it to f16).
// Quantized once per linear call and shared by every task.
constexpr int64_t activation_row_bytes(int64_t K) { return K + K / kQBlock * 4; }
void quantize_activations(const float* x, int64_t M, int64_t K, int64_t ldx, void* out);
// The same activations as the VNNI kernels read them (kernels_quant.inl, VnniSteps): the blocks
// in steps of 2 (Q8_0) or 4 (Q4_0) in the weight format's lane order (the last step padded with
// blocks of zeros; room for 4 either way), then K / 32 f32 scales d, then K / 32 f32
// d * (sum of the block's q).
constexpr int64_t vnni_activation_row_bytes(int64_t K) {
  return (K / kQBlock + 3) / 4 * 4 * kQBlock + K / kQBlock * 8;
}

}  // namespace transformers::cpu
