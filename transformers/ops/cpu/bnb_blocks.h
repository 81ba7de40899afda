// bitsandbytes' 4-bit blocks, NF4 and FP4 (core/dtype.h has the byte layout): the code books and
// the scalar codec, bit for bit as bitsandbytes' quantize_4bit (kQuantizeBlockwise) makes them.
//
// Per block of 64 elements: absmax = max |x| (f32), s = x * (1.0f / absmax) (the f32 reciprocal,
// then a product, as bitsandbytes does), and the nibble is the nearest code of s, an input exactly
// between two codes going to the lower one: bitsandbytes compares s > t against the midpoints t
// listed in bnb_blocks.cpp. An all-zero block (absmax 0) scales to NaN, which bitsandbytes' tree
// sends to nibble 0 (NF4's -1.0, FP4's +0.0); we store the same nibble, and it dequantizes to 0.
// Element 2j is the high nibble of byte j, element 2j + 1 the low one.
//
// FP4 nibbles are sign (bit 3) and a 3-bit magnitude; the magnitudes are bitsandbytes' e2m1 with
// bias 3 divided by 12 (code 0b011 is 12/12 = 1).
#pragma once

#include <cstdint>

namespace transformers::cpu {

constexpr int64_t kBnbBlock = 64;  // bitsandbytes' default blocksize for 4-bit weights
constexpr int64_t kBnbBlockBytes = 4 + kBnbBlock / 2;

// The 16 values of each code book (index = nibble), as f32: bitsandbytes' dequantization tables
// and the `quant_map` tensor Transformers saves.
const float* nf4_code_book();
const float* fp4_code_book();

// The nibble of one scaled value s = x / absmax.
uint8_t nf4_nibble(float s);
uint8_t fp4_nibble(float s);

// f32 -> blocks (n a multiple of 64) and blocks -> f32.
void quantize_nf4(const float* x, void* out, int64_t n);
void quantize_fp4(const float* x, void* out, int64_t n);
void dequantize_nf4(const void* in, float* out, int64_t n);
void dequantize_fp4(const void* in, float* out, int64_t n);

}  // namespace transformers::cpu
