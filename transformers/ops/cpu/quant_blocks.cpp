#include "transformers/ops/cpu/quant_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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
  for (int64_t i = 0; i < n / kQBlock; ++i, b += kQ4_0Bytes, x += kQBlock) {
    float amax = 0.0f, max = 0.0f;
    for (int64_t j = 0; j < kQBlock; ++j)
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16_scale(b, d);
    for (int64_t j = 0; j < kQBlock / 2; ++j) {
      const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + kQBlock / 2] * id + 8.5f)));
      b[2 + j] = static_cast<unsigned char>(lo | (hi << 4));
    }
  }
}

void quantize_q4_0_weighted(const float* x, void* out, int64_t n, const float* importance) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  const float sigma2 = sum_x2 / static_cast<float>(n);
  std::vector<float> weights(static_cast<size_t>(n)), d(static_cast<size_t>(n / kQBlock));
  std::vector<uint8_t> L(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) weights[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
  quant_search().fit_signed_scale_groups(x, weights.data(), static_cast<int>(n / kQBlock), kQBlock, 8, L.data(),
                                         d.data());
  auto* b = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < n / kQBlock; ++i, b += kQ4_0Bytes) {
    store_f16_scale(b, d[i]);
    const uint8_t* l = L.data() + i * kQBlock;
    for (int64_t j = 0; j < kQBlock / 2; ++j) b[2 + j] = static_cast<unsigned char>(l[j] | l[j + kQBlock / 2] << 4);
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

void quantize_activations(const float* x, int64_t M, int64_t K, int64_t ldx, void* out) {
  for (int64_t m = 0; m < M; ++m) {
    auto* row = static_cast<unsigned char*>(out) + m * activation_row_bytes(K);
    auto* q = reinterpret_cast<int8_t*>(row);
    auto* d = reinterpret_cast<float*>(row + K);
    for (int64_t b = 0; b < K / kQBlock; ++b) d[b] = quantize_int8(x + m * ldx + b * kQBlock, kQBlock, q + b * kQBlock);
  }
}

}  // namespace transformers::cpu
