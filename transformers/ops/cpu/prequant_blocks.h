// Scalar codecs of the block dtypes that pre-quantized checkpoints are repacked into (layouts in
// core/dtype.h): Q4_Z (GPTQ / AWQ 4-bit with a zero point), F8_B128 (FineGrained FP8) and MXFP4
// (gpt-oss). Decoding is exact: each element is one f32 product of the decoded code and the
// block's scale, the same product the checkpoints' own dequantisation defines. These formats run
// through dequant_rows (the linear driver converts panels and multiplies in f32), so their
// bytes never depend on the tier.
#pragma once

#include <cstdint>

namespace transformers::cpu {

constexpr int64_t kQ4ZBytes = 20;         // f16 d, u8 zero, u8 pad, 16 bytes of nibbles
constexpr int64_t kF8Block = 128;         // elements per F8_B128 block
constexpr int64_t kF8B128Bytes = 132;     // f32 scale + 128 e4m3 codes
constexpr int64_t kMxfp4Bytes = 17;       // e8m0 scale + 16 bytes of e2m1 pairs

// OCP 8-bit floating point E4M3 ("fn": no infinities): sign, 4 exponent bits (bias 7), 3
// mantissa bits; exponent 0 is subnormal (m / 8 * 2^-6); S.1111.111 is NaN; max 448.
float e4m3_to_f32(uint8_t code);
// Round to nearest even, saturating at +-448 (as torch's float8_e4m3fn cast of finite values).
uint8_t f32_to_e4m3(float x);
// OCP MX E2M1: sign, 2 exponent bits (bias 1), 1 mantissa bit: 0, 0.5, 1, 1.5, 2, 3, 4, 6.
float e2m1_to_f32(uint8_t nibble);
// OCP MX E8M0 scale: 2^(e - 127); 0xFF is NaN.
float e8m0_to_f32(uint8_t e);

// One Q4_Z block from 32 unsigned 4-bit values (element order), an f16 scale and a zero point
// (0..16: GPTQ's v1 format stores zero - 1, so its largest zero is 16).
void pack_q4_z_block(const uint8_t* q, uint16_t scale_f16, uint8_t zero, unsigned char* block);

// blocks -> f32, n elements (a multiple of the block).
void dequantize_q4_z(const void* in, float* out, int64_t n);
void dequantize_f8_b128(const void* in, float* out, int64_t n);
void dequantize_mxfp4(const void* in, float* out, int64_t n);
// f32 -> blocks (ops::cast to these dtypes; the loaders repack checkpoint bytes directly):
//   Q4_Z: asymmetric min/max over the block, d = (max - min) / 15 as f16, z = round(-min / d);
//   F8_B128: s = amax / 448, codes = e4m3(x / s);
//   MXFP4: e = floor(log2(amax)) - 2 + 127 (OCP's shared exponent), q = nearest e2m1 of x / 2^(e-127).
void quantize_q4_z(const float* x, void* out, int64_t n);
void quantize_f8_b128(const float* x, void* out, int64_t n);
void quantize_mxfp4(const float* x, void* out, int64_t n);

}  // namespace transformers::cpu
