#include "transformers/ops/cpu/quant_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "transformers/core/half.h"
#include "transformers/ops/cpu/quant_search.h"

namespace transformers::cpu {

namespace {
// std::roundf (halves away from zero) of |v| <= 128 without its library call: this file is built
// for baseline x86-64, which has no rounding instruction, and the call per element was ~3 % of a
// Q4_0 decode step. v - trunc(v) is exact in float, so the result is roundf's.
int round_half_away(float v) {
  int i = static_cast<int>(v);
  const float rest = v - static_cast<float>(i);
  if (rest >= 0.5f) ++i;
  else if (rest <= -0.5f) --i;
  return i;
}

// Levels L (< 16, or < 32 with the fifth bit) of a block as nibbles: element j < 16 low, j + 16
// high; the fifth bits into qh (bit j for element j), when qh is given.
void pack_block(const uint8_t* L, unsigned char* qs, unsigned char* qh) {
  uint32_t high = 0;
  for (int64_t j = 0; j < kQBlock / 2; ++j) {
    qs[j] = static_cast<unsigned char>((L[j] & 15) | (L[j + kQBlock / 2] & 15) << 4);
    high |= static_cast<uint32_t>(L[j] >> 4 & 1) << j | static_cast<uint32_t>(L[j + kQBlock / 2] >> 4 & 1) << (j + 16);
  }
  if (qh) std::memcpy(qh, &high, 4);  // little-endian, as GGML stores it
}

// GGML's reference levels of Q4_0 (half 8) and Q5_0 (half 16) for one block: d = m / -half of
// the element m largest in magnitude (sign kept), q = min(2 half - 1, (int8_t)(x / d + half +
// 0.5)) with the unrounded 1/d; returns d.
float symmetric_levels(const float* x, int half, uint8_t* L) {
  float amax = 0.0f, max = 0.0f;
  for (int64_t j = 0; j < kQBlock; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  const float d = max / static_cast<float>(-half);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int64_t j = 0; j < kQBlock; ++j)
    L[j] = static_cast<uint8_t>(
        std::min(2 * half - 1, static_cast<int>(static_cast<int8_t>(x[j] * id + (static_cast<float>(half) + 0.5f)))));
  return d;
}
}  // namespace

float quantize_int8(const float* x, int64_t n, int8_t* q) {
  float amax = 0.0f;
  for (int64_t j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int64_t j = 0; j < n; ++j) q[j] = static_cast<int8_t>(round_half_away(x[j] * id));
  return d;
}

void store_f16_scale(unsigned char* p, float v) {
  const uint16_t h = f32_to_f16_portable(v);
  std::memcpy(p, &h, 2);
}

float load_f16_scale(const unsigned char* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32_portable(h);
}

void quantize_q8_0(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < n / kQBlock; ++i, b += kQ8_0Bytes, x += kQBlock)
    store_f16_scale(b, quantize_int8(x, kQBlock, reinterpret_cast<int8_t*>(b + 2)));
}

void quantize_q4_0(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  uint8_t L[kQBlock];
  for (int64_t i = 0; i < n / kQBlock; ++i, b += kQ4_0Bytes, x += kQBlock) {
    store_f16_scale(b, symmetric_levels(x, 8, L));
    pack_block(L, b + 2, nullptr);
  }
}

namespace {

// The per-element weights of GGML's importance-weighted block quantizers (Q4_0, Q5_0, Q5_1):
// importance[j] * sqrt(sigma2 + x[j]^2), sigma2 the row's mean square.
std::vector<float> row_weights(const float* x, int64_t n, const float* importance) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  const float sigma2 = sum_x2 / static_cast<float>(n);
  std::vector<float> weights(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) weights[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
  return weights;
}

// Q5_0 (`with_min` false) or Q5_1 blocks of a row by GGML's weighted quantizers.
void quantize_q5_weighted(const float* x, void* out, int64_t n, const float* importance, bool with_min) {
  const std::vector<float> weights = row_weights(x, n, importance);
  const int blocks = static_cast<int>(n / kQBlock);
  std::vector<float> d(static_cast<size_t>(blocks)), min(static_cast<size_t>(blocks));
  std::vector<uint8_t> L(static_cast<size_t>(n));
  if (with_min)
    quant_search().fit_scale_min_groups(x, weights.data(), blocks, kQBlock, 31, -0.9f, 0.05f, 36, L.data(), d.data(),
                                        min.data());
  else
    quant_search().fit_signed_scale_groups(x, weights.data(), blocks, kQBlock, 16, L.data(), d.data());
  auto* b = static_cast<unsigned char*>(out);
  for (int i = 0; i < blocks; ++i, b += with_min ? kQ5_1Bytes : kQ5_0Bytes) {
    store_f16_scale(b, d[i]);
    if (with_min) store_f16_scale(b + 2, -min[i]);
    const int64_t head = with_min ? 4 : 2;
    pack_block(L.data() + i * kQBlock, b + head + 4, b + head);
  }
}

}  // namespace

void quantize_q4_0_weighted(const float* x, void* out, int64_t n, const float* importance) {
  const std::vector<float> weights = row_weights(x, n, importance);
  std::vector<float> d(static_cast<size_t>(n / kQBlock));
  std::vector<uint8_t> L(static_cast<size_t>(n));
  quant_search().fit_signed_scale_groups(x, weights.data(), static_cast<int>(n / kQBlock), kQBlock, 8, L.data(),
                                         d.data());
  auto* b = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < n / kQBlock; ++i, b += kQ4_0Bytes) {
    store_f16_scale(b, d[i]);
    pack_block(L.data() + i * kQBlock, b + 2, nullptr);
  }
}

void quantize_q5_0_weighted(const float* x, void* out, int64_t n, const float* importance) {
  quantize_q5_weighted(x, out, n, importance, false);
}
void quantize_q5_1_weighted(const float* x, void* out, int64_t n, const float* importance) {
  quantize_q5_weighted(x, out, n, importance, true);
}

void quantize_q5_0(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  uint8_t L[kQBlock];
  for (int64_t i = 0; i < n / kQBlock; ++i, b += kQ5_0Bytes, x += kQBlock) {
    store_f16_scale(b, symmetric_levels(x, 16, L));
    pack_block(L, b + 6, b + 2);
  }
}

void quantize_q5_1(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  uint8_t L[kQBlock];
  for (int64_t i = 0; i < n / kQBlock; ++i, b += kQ5_1Bytes, x += kQBlock) {
    float min = std::numeric_limits<float>::max(), max = -std::numeric_limits<float>::max();
    for (int64_t j = 0; j < kQBlock; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16_scale(b, d);
    store_f16_scale(b + 2, min);
    for (int64_t j = 0; j < kQBlock; ++j) L[j] = static_cast<uint8_t>((x[j] - min) * id + 0.5f);
    pack_block(L, b + 8, b + 4);
  }
}

void dequantize_q8_0(const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / kQBlock; ++i, b += kQ8_0Bytes, out += kQBlock) {
    const float d = load_f16_scale(b);
    for (int64_t j = 0; j < kQBlock; ++j) out[j] = d * static_cast<float>(static_cast<int8_t>(b[2 + j]));
  }
}

void dequantize_q4_0(const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / kQBlock; ++i, b += kQ4_0Bytes, out += kQBlock) {
    const float d = load_f16_scale(b);
    for (int64_t j = 0; j < kQBlock / 2; ++j) {
      out[j] = d * static_cast<float>((b[2 + j] & 0x0f) - 8);
      out[j + kQBlock / 2] = d * static_cast<float>((b[2 + j] >> 4) - 8);
    }
  }
}

namespace {
// Q5_0 (offset 16) or Q5_1 (min m) blocks to f32: q = nibble | fifth bit << 4.
void dequantize_q5(const void* in, float* out, int64_t n, bool with_min) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / kQBlock; ++i, b += with_min ? kQ5_1Bytes : kQ5_0Bytes, out += kQBlock) {
    const float d = load_f16_scale(b), m = with_min ? load_f16_scale(b + 2) : 0.0f;
    const unsigned char* qh = b + (with_min ? 4 : 2);
    const unsigned char* qs = qh + 4;
    uint32_t high;
    std::memcpy(&high, qh, 4);
    for (int64_t j = 0; j < kQBlock; ++j) {
      const int q = (qs[j % 16] >> (j < 16 ? 0 : 4) & 15) | static_cast<int>(high >> j & 1) << 4;
      out[j] = with_min ? d * static_cast<float>(q) + m : d * static_cast<float>(q - 16);
    }
  }
}
}  // namespace

void dequantize_q5_0(const void* in, float* out, int64_t n) { dequantize_q5(in, out, n, false); }
void dequantize_q5_1(const void* in, float* out, int64_t n) { dequantize_q5(in, out, n, true); }

void quantize_activations(const float* x, int64_t M, int64_t K, int64_t ldx, void* out) {
  for (int64_t m = 0; m < M; ++m) {
    auto* row = static_cast<unsigned char*>(out) + m * activation_row_bytes(K);
    auto* q = reinterpret_cast<int8_t*>(row);
    auto* d = reinterpret_cast<float*>(row + K);
    for (int64_t b = 0; b < K / kQBlock; ++b) d[b] = quantize_int8(x + m * ldx + b * kQBlock, kQBlock, q + b * kQBlock);
  }
}

}  // namespace transformers::cpu
