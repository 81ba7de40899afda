#include "transformers/ops/cpu/prequant_blocks.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "transformers/core/half.h"

namespace transformers::cpu {
namespace {

constexpr float kE2M1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

// The magnitudes of codes 0..126 (127 is NaN), increasing with the code.
const std::array<float, 127>& e4m3_magnitudes() {
  static const std::array<float, 127> table = [] {
    std::array<float, 127> t{};
    for (int c = 0; c < 127; ++c) t[static_cast<size_t>(c)] = e4m3_to_f32(static_cast<uint8_t>(c));
    return t;
  }();
  return table;
}

// The index of the value of `table` (increasing, n entries) nearest to v >= 0, ties to the even
// index (the even mantissa: both e4m3 and e2m1 codes end in their mantissa bit); saturates.
int nearest_even(const float* table, int n, float v) {
  const int hi = static_cast<int>(std::lower_bound(table, table + n, v) - table);
  if (hi == 0) return 0;
  if (hi == n) return n - 1;
  const float below = v - table[hi - 1], above = table[hi] - v;
  if (below < above) return hi - 1;
  if (above < below) return hi;
  return (hi - 1) % 2 == 0 ? hi - 1 : hi;
}

uint8_t nearest_e2m1(float x) {
  const uint8_t sign = std::signbit(x) ? 8 : 0;
  return static_cast<uint8_t>(sign | nearest_even(kE2M1, 8, std::fabs(x)));
}

}  // namespace

float e4m3_to_f32(uint8_t code) {
  const int exp = (code >> 3) & 0x0f, mant = code & 0x07;
  const float sign = code & 0x80 ? -1.0f : 1.0f;
  if (exp == 0x0f && mant == 0x07) return std::numeric_limits<float>::quiet_NaN();
  if (exp == 0) return sign * std::ldexp(static_cast<float>(mant), -9);  // m / 8 * 2^-6
  return sign * std::ldexp(static_cast<float>(8 + mant), exp - 10);       // (1 + m / 8) * 2^(e - 7)
}

uint8_t f32_to_e4m3(float x) {
  if (std::isnan(x)) return 0x7f;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  return static_cast<uint8_t>(sign | nearest_even(e4m3_magnitudes().data(), 127, std::fabs(x)));
}

float e2m1_to_f32(uint8_t nibble) { return (nibble & 8 ? -1.0f : 1.0f) * kE2M1[nibble & 7]; }

float e8m0_to_f32(uint8_t e) {
  if (e == 0xff) return std::numeric_limits<float>::quiet_NaN();
  return std::ldexp(1.0f, static_cast<int>(e) - 127);
}

void pack_q4_z_block(const uint8_t* q, uint16_t scale_f16, uint8_t zero, unsigned char* block) {
  std::memcpy(block, &scale_f16, 2);
  block[2] = zero;
  block[3] = 0;
  for (int j = 0; j < 16; ++j) block[4 + j] = static_cast<unsigned char>((q[j] & 0x0f) | (q[j + 16] & 0x0f) << 4);
}

void dequantize_q4_z(const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / 32; ++i, b += kQ4ZBytes, out += 32) {
    uint16_t h;
    std::memcpy(&h, b, 2);
    const float d = f16_to_f32_portable(h);
    const int z = b[2];
    for (int j = 0; j < 16; ++j) {
      out[j] = d * static_cast<float>((b[4 + j] & 0x0f) - z);
      out[j + 16] = d * static_cast<float>((b[4 + j] >> 4) - z);
    }
  }
}

void dequantize_f8_b128(const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / kF8Block; ++i, b += kF8B128Bytes, out += kF8Block) {
    float s;
    std::memcpy(&s, b, 4);
    for (int64_t j = 0; j < kF8Block; ++j) out[j] = e4m3_to_f32(b[4 + j]) * s;
  }
}

void dequantize_mxfp4(const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / 32; ++i, b += kMxfp4Bytes, out += 32) {
    const float s = e8m0_to_f32(b[0]);
    for (int j = 0; j < 16; ++j) {
      out[2 * j] = e2m1_to_f32(b[1 + j] & 0x0f) * s;
      out[2 * j + 1] = e2m1_to_f32(b[1 + j] >> 4) * s;
    }
  }
}

void quantize_q4_z(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < n / 32; ++i, b += kQ4ZBytes, x += 32) {
    const auto [lo, hi] = std::minmax_element(x, x + 32);
    const float lo_v = std::min(*lo, 0.0f), hi_v = std::max(*hi, 0.0f);
    const uint16_t h = f32_to_f16_portable((hi_v - lo_v) / 15.0f);
    const float d = f16_to_f32_portable(h);
    const int z = d > 0 ? std::clamp(static_cast<int>(std::lround(-lo_v / d)), 0, 15) : 0;
    uint8_t q[32];
    for (int j = 0; j < 32; ++j)
      q[j] = static_cast<uint8_t>(d > 0 ? std::clamp(static_cast<int>(std::lround(x[j] / d)) + z, 0, 15) : z);
    pack_q4_z_block(q, h, static_cast<uint8_t>(z), b);
  }
}

void quantize_f8_b128(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < n / kF8Block; ++i, b += kF8B128Bytes, x += kF8Block) {
    float amax = 0;
    for (int64_t j = 0; j < kF8Block; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float s = amax > 0 ? amax / 448.0f : 1.0f;
    std::memcpy(b, &s, 4);
    for (int64_t j = 0; j < kF8Block; ++j) b[4 + j] = f32_to_e4m3(x[j] / s);
  }
}

void quantize_mxfp4(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < n / 32; ++i, b += kMxfp4Bytes, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const int e = amax > 0 ? std::clamp(static_cast<int>(std::floor(std::log2(amax))) - 2 + 127, 0, 254) : 0;
    b[0] = static_cast<unsigned char>(e);
    const float inv = 1.0f / e8m0_to_f32(b[0]);
    for (int j = 0; j < 16; ++j)
      b[1 + j] = static_cast<unsigned char>(nearest_e2m1(x[2 * j] * inv) | nearest_e2m1(x[2 * j + 1] * inv) << 4);
  }
}

}  // namespace transformers::cpu
