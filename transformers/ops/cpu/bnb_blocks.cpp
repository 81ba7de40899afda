#include "transformers/ops/cpu/bnb_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace transformers::cpu {
namespace {

// NF4: the quantiles of N(0, 1) normalised to [-1, 1] with an exact 0 (QLoRA, appendix E), as
// bitsandbytes tabulates them.
constexpr float kNf4[16] = {-1.0f,
                            -0.6961928009986877f,
                            -0.5250730514526367f,
                            -0.39491748809814453f,
                            -0.28444138169288635f,
                            -0.18477343022823334f,
                            -0.09105003625154495f,
                            0.0f,
                            0.07958029955625534f,
                            0.16093020141124725f,
                            0.24611230194568634f,
                            0.33791524171829224f,
                            0.44070982933044434f,
                            0.5626170039176941f,
                            0.7229568362236023f,
                            1.0f};
// The decision points between consecutive NF4 codes (midpoints, as bitsandbytes' f32 constants):
// the nibble is the number of them that s exceeds.
constexpr float kNf4Midpoints[15] = {
    -0.8480964004993439f,  -0.6106329262256622f,  -0.4599952697753906f,   -0.33967943489551544f,
    -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
    0.1202552504837513f,   0.2035212516784668f,   0.2920137718319893f,    0.3893125355243683f,
    0.5016634166240692f,   0.6427869200706482f,   0.8614784181118011f};

// FP4 magnitudes by 3-bit code: e2m1 with bias 3 (0, 0.0625 subnormal, 8, 12, 4, 6, 2, 3) / 12,
// as bitsandbytes' f32 table.
constexpr float kFp4Magnitude[8] = {0.0f, 0.005208333333f, 0.66666667f, 1.0f, 0.33333333f,
                                    0.5f, 0.16666667f,     0.25f};
// The codes in increasing magnitude, and bitsandbytes' decision points between neighbours.
constexpr uint8_t kFp4ByMagnitude[8] = {0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011};
constexpr float kFp4Midpoints[7] = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f,
                                    0.4166667f,  0.583333f,  0.8333333f};

// How many of the sorted points `s` exceeds (a NaN exceeds none).
template <size_t N>
uint8_t points_below(const float (&points)[N], float s) {
  uint8_t c = 0;
  for (float p : points) c += s > p ? 1 : 0;
  return c;
}

const float* build_fp4_code_book() {
  static float book[16];
  for (int q = 0; q < 8; ++q) {
    book[q] = kFp4Magnitude[q];
    book[q + 8] = -kFp4Magnitude[q];
  }
  return book;
}

template <uint8_t (*Nibble)(float)>
void quantize_blocks(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < n / kBnbBlock; ++i, b += kBnbBlockBytes, x += kBnbBlock) {
    float absmax = 0.0f;
    for (int64_t j = 0; j < kBnbBlock; ++j) absmax = std::max(absmax, std::fabs(x[j]));
    std::memcpy(b, &absmax, 4);
    // bitsandbytes multiplies by the f32 reciprocal; an all-zero block is its 0 * inf = NaN,
    // which both trees send to nibble 0 (spelled out, so no compiler flag can change it).
    const float inv = 1.0f / absmax;
    auto nibble = [&](float v) { return absmax == 0.0f ? uint8_t{0} : Nibble(v * inv); };
    for (int64_t j = 0; j < kBnbBlock / 2; ++j)
      b[4 + j] = static_cast<unsigned char>(nibble(x[2 * j]) << 4 | nibble(x[2 * j + 1]));
  }
}

void dequantize_blocks(const float* book, const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / kBnbBlock; ++i, b += kBnbBlockBytes, out += kBnbBlock) {
    float absmax;
    std::memcpy(&absmax, b, 4);
    for (int64_t j = 0; j < kBnbBlock / 2; ++j) {
      out[2 * j] = book[b[4 + j] >> 4] * absmax;
      out[2 * j + 1] = book[b[4 + j] & 0x0f] * absmax;
    }
  }
}

}  // namespace

const float* nf4_code_book() { return kNf4; }
const float* fp4_code_book() {
  static const float* book = build_fp4_code_book();
  return book;
}

uint8_t nf4_nibble(float s) { return points_below(kNf4Midpoints, s); }

uint8_t fp4_nibble(float s) {
  const uint8_t sign = s < 0.0f ? 0b1000 : 0;
  return static_cast<uint8_t>(sign | kFp4ByMagnitude[points_below(kFp4Midpoints, std::fabs(s))]);
}

void quantize_nf4(const float* x, void* out, int64_t n) { quantize_blocks<nf4_nibble>(x, out, n); }
void quantize_fp4(const float* x, void* out, int64_t n) { quantize_blocks<fp4_nibble>(x, out, n); }
void dequantize_nf4(const void* in, float* out, int64_t n) {
  dequantize_blocks(nf4_code_book(), in, out, n);
}
void dequantize_fp4(const void* in, float* out, int64_t n) {
  dequantize_blocks(fp4_code_book(), in, out, n);
}

}  // namespace transformers::cpu
