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
#include <vector>

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

// ---- Double quantization (bnb_4bit_use_double_quant, bitsandbytes' compress_statistics): the
// absmax vector of a whole tensor (its blocks in order) is quantized again: offset = mean(absmax),
// then absmax - offset blockwise to 8 bits in blocks of 256 with bitsandbytes' signed dynamic code
// (create_dynamic_map) and an f32 absmax per block (nested_absmax). Dequantized as bitsandbytes'
// dequantize_blockwise then `+= offset`: code[q] * nested_absmax[i / 256] + offset, in f32.
constexpr int64_t kBnbNestedBlock = 256;

// bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 f32
// values in increasing order (torch.linspace and f32 arithmetic reproduced).
const float* bnb_dynamic_code_book();

struct BnbNestedAbsmax {
  std::vector<uint8_t> q;              // one code index per absmax
  std::vector<float> nested_absmax;    // one per 256
  float offset = 0.0f;
};
// Quantizes n absmax values (quantize_blockwise's nearest code, ties to the lower index). The
// offset is the mean summed in double and rounded once to f32; torch's f32 mean (whose summation
// order depends on the device and its vector kernel: PyTorch 1.13's CPU mean differed in the last
// bit for 35 of 120 random vectors) can differ by one ulp, which moves every dequantized absmax by
// that ulp. Loading a bitsandbytes file uses the file's offset, so there the values are exact.
BnbNestedAbsmax bnb_double_quantize(const float* absmax, int64_t n);
// The absmax values bitsandbytes dequantizes from q (n of them), nested_absmax and offset with
// `code` (256 values).
void bnb_dequantize_nested(const uint8_t* q, int64_t n, const float* nested_absmax, const float* code, float offset,
                           float* out);
// In place on NF4 / FP4 blocks: every block's absmax replaced by its double-quantized value.
void bnb_double_quantize_blocks(void* blocks, int64_t n_blocks);

}  // namespace transformers::cpu
