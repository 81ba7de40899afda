#include "transformers/ops/cpu/quant_kblocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "transformers/ops/cpu/quant_blocks.h"
#include "transformers/ops/cpu/quant_search.h"

namespace transformers::cpu {
namespace {

constexpr int kSub = 32;                      // elements per scale of Q4_K / Q5_K
constexpr int kSubBlocks = kKBlock / kSub;    // 8
constexpr int kSub6 = 16;                     // elements per scale of Q6_K
constexpr int kSubBlocks6 = kKBlock / kSub6;  // 16

// ---- Q4_K / Q5_K: a scale and a min per 32, as 6-bit numbers under f16 d and dmin.

// The 16 header bytes both formats share: d, dmin, the 12 bytes of packed scales and mins.
struct KHeader {
  float d, dmin;
  uint8_t sc[kSubBlocks], m[kSubBlocks];
};

void store_header(unsigned char* b, float d, float dmin, const uint8_t* sc, const uint8_t* m) {
  store_f16_scale(b, d);
  store_f16_scale(b + 2, dmin);
  unsigned char* s = b + 4;
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<unsigned char>(sc[j] | (sc[j + 4] >> 4) << 6);
    s[j + 4] = static_cast<unsigned char>(m[j] | (m[j + 4] >> 4) << 6);
    s[j + 8] = static_cast<unsigned char>((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
  }
}

KHeader load_header(const unsigned char* b) {
  KHeader h{load_f16_scale(b), load_f16_scale(b + 2), {}, {}};
  const unsigned char* s = b + 4;
  for (int j = 0; j < 4; ++j) {
    h.sc[j] = s[j] & 63;
    h.m[j] = s[j + 4] & 63;
    h.sc[j + 4] = static_cast<uint8_t>((s[j + 8] & 15) | (s[j] >> 6) << 4);
    h.m[j + 4] = static_cast<uint8_t>((s[j + 8] >> 4) | (s[j + 4] >> 6) << 4);
  }
  return h;
}

// Stores the header and re-rounds every element of the super-block against its scales as stored
// (6-bit, under the f16 d and dmin): the last step of both of GGML's Q4_K / Q5_K quantizers.
void store_header_and_round(const float* x, int nmax, float d, float dmin, const uint8_t* sc, const uint8_t* m,
                            unsigned char* header, uint8_t* L) {
  store_header(header, d, dmin, sc, m);
  const KHeader h = load_header(header);
  for (int j = 0; j < kSubBlocks; ++j) {
    const float dj = h.d * h.sc[j];
    if (dj == 0) continue;
    const float dm = h.dmin * h.m[j];
    for (int l = 0; l < kSub; ++l)
      L[kSub * j + l] = static_cast<uint8_t>(std::clamp(nearest_int((x[kSub * j + l] + dm) / dj), 0, nmax));
  }
}

// Super-blocks searched together: 16 sub-blocks, one per lane of the widest vector tier.
constexpr int kSearchBlocks = 2;

// The sub-block fits of `blocks` (<= kSearchBlocks) super-blocks of Q4_K (nmax 15) or Q5_K (nmax
// 31): scales, mins and levels L of every sub-block, from GGML's reference search (importance
// null: element l weighs the sub-block's rms + |x[l]|, large weights mattering more) or its
// importance-weighted one (quantize_row_q4_K_impl / q5_K: element l weighs importance[l] *
// sqrt(sigma2 + x[l]^2), sigma2 twice the super-block's mean square, over 37 finer grids; then
// sub_weight is each sub-block's total weight).
void fit_sub_blocks(const float* x, const float* importance, int blocks, int nmax, float* scales, float* mins,
                    float* sub_weight, uint8_t* L) {
  float weights[kSearchBlocks * kKBlock];
  for (int b = 0; b < blocks; ++b) {
    const float* xb = x + b * kKBlock;
    float* wb = weights + b * kKBlock;
    if (!importance) {
      for (int j = 0; j < kSubBlocks; ++j) {
        const float* xs = xb + kSub * j;
        float sum_x2 = 0;
        for (int l = 0; l < kSub; ++l) sum_x2 += xs[l] * xs[l];
        const float av_x = std::sqrt(sum_x2 / kSub);
        for (int l = 0; l < kSub; ++l) wb[kSub * j + l] = av_x + std::fabs(xs[l]);
      }
      continue;
    }
    float sum_x2 = 0;
    for (int l = 0; l < kKBlock; ++l) sum_x2 += xb[l] * xb[l];
    const float sigma2 = 2 * sum_x2 / kKBlock;
    for (int j = 0; j < kSubBlocks; ++j) {
      float sum_w = 0;
      for (int l = 0; l < kSub; ++l) {
        const int e = kSub * j + l;
        wb[e] = importance[b * kKBlock + e] * std::sqrt(sigma2 + xb[e] * xb[e]);
        sum_w += wb[e];
      }
      sub_weight[b * kSubBlocks + j] = sum_w;
    }
  }
  const bool five = nmax == 31;
  if (importance)
    quant_search().fit_scale_min_groups(x, weights, blocks * kSubBlocks, kSub, nmax, -0.9f, 0.05f, 36, L, scales, mins);
  else
    quant_search().fit_scale_min_groups(x, weights, blocks * kSubBlocks, kSub, nmax, five ? -0.5f : -1.0f, 0.1f,
                                        five ? 15 : 20, L, scales, mins);
}

// The 6-bit sub-block scales and mins of one super-block under f16 d and dmin: GGML's reference
// quantizer rounds them from the largest; the weighted one fits them to the sub-blocks' weights.
// Then the header is stored and the levels re-rounded against it.
void finish_super_block(const float* x, int nmax, const float* scales, const float* mins, const float* sub_weight,
                        unsigned char* header, uint8_t* L) {
  uint8_t sc[kSubBlocks], m[kSubBlocks];
  if (sub_weight) {
    const float d = fit_positive_scale(scales, sub_weight, kSubBlocks, 63, sc);
    const float dmin = fit_positive_scale(mins, sub_weight, kSubBlocks, 63, m);
    store_header_and_round(x, nmax, d, dmin, sc, m, header, L);
    return;
  }
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kSubBlocks; ++j) {
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < kSubBlocks; ++j) {
    // GGML stores nearest_int's result in a uint8_t before clamping to 63.
    sc[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    m[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  store_header_and_round(x, nmax, max_scale / 63.f, max_min / 63.f, sc, m, header, L);
}

// The low nibbles of Q4_K / Q5_K: 64 elements per 32 bytes, sub-block 2c low, 2c + 1 high.
int nibble(const unsigned char* qs, int e) { return qs[32 * (e / 64) + e % 32] >> (4 * (e / 32 % 2)) & 15; }
// Q5_K's fifth bit of element e, as 0 or 16.
int fifth_bit(const unsigned char* qh, int e) { return (qh[e % 32] >> (e / 32) & 1) << 4; }
// Q6_K's 6-bit value of element e (0..63, x = d * sc * (q - 32)).
int six_bits(const unsigned char* ql, const unsigned char* qh, int e) {
  const int h = e / 128, t = (e % 128) / 32, l = e % 32;
  const int lo = ql[64 * h + 32 * (t % 2) + l] >> (t < 2 ? 0 : 4) & 15;
  return lo | (qh[32 * h + l] >> (2 * t) & 3) << 4;
}

void pack_nibbles(const uint8_t* L, unsigned char* qs) {
  for (int c = 0; c < kKBlock / 64; ++c)
    for (int l = 0; l < 32; ++l)
      qs[32 * c + l] =
          static_cast<unsigned char>((L[64 * c + l] & 15) | (L[64 * c + 32 + l] & 15) << 4);
}

// Calls out(e, d_e * q - m_e) for the 256 elements of a Q4_K / Q5_K super-block, q_e its
// integer (high(e) adds the fifth bit of Q5_K).
template <typename High>
void dequantize_with_mins(const unsigned char* b, const unsigned char* qs, High&& high,
                          float* out) {
  const KHeader h = load_header(b);
  for (int j = 0; j < kSubBlocks; ++j) {
    const float d = h.d * h.sc[j], m = h.dmin * h.m[j];
    for (int l = 0; l < kSub; ++l) {
      const int e = kSub * j + l;
      out[e] = d * (nibble(qs, e) + high(e)) - m;
    }
  }
}

// Q4_K / Q5_K super-blocks from their integers L: Q5_K's fifth bits, then the nibbles.
void pack_with_mins(const uint8_t* L, bool five, unsigned char* b) {
  if (five) {
    unsigned char* qh = b + 16;
    std::memset(qh, 0, 32);
    for (int e = 0; e < kKBlock; ++e)
      if (L[e] > 15) qh[e % 32] = static_cast<unsigned char>(qh[e % 32] | 1 << (e / 32));
  }
  pack_nibbles(L, b + (five ? 48 : 16));
}

// ---- Q6_K: a signed int8 scale per 16 under one f16 d; q in [-32, 31].

// One Q6_K super-block: a signed scale per 16 fitted with weights `importance` (GGML's
// quantize_row_q6_K_impl) or, when null, x^2 (quantize_row_q6_K_ref); the scales rounded to int8
// under one f16 d, the elements re-rounded against them.
void quantize_q6_k_block(const float* x, const float* importance, unsigned char* b) {
  uint8_t L[kKBlock];
  float scales[kSubBlocks6];
  float max_scale = 0, max_abs = 0;
  quant_search().fit_signed_scale_groups(x, importance, kSubBlocks6, kSub6, 32, L, scales);
  for (int j = 0; j < kSubBlocks6; ++j) {
    if (std::fabs(scales[j]) > max_abs) {
      max_abs = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  std::memset(b, 0, kQ6_KBytes);
  if (max_abs < 1e-15f) return;  // all zero: d = 0
  auto* sc = reinterpret_cast<int8_t*>(b + 192);
  const float iscale = -128.f / max_scale;
  store_f16_scale(b + 208, 1 / iscale);
  for (int j = 0; j < kSubBlocks6; ++j) sc[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
  const float d_all = load_f16_scale(b + 208);
  for (int j = 0; j < kSubBlocks6; ++j) {
    const float d = d_all * sc[j];
    if (d == 0) continue;
    for (int l = 0; l < kSub6; ++l)
      L[kSub6 * j + l] = static_cast<uint8_t>(32 + std::clamp(nearest_int(x[kSub6 * j + l] / d), -32, 31));
  }
  unsigned char *ql = b, *qh = b + 128;
  for (int e = 0; e < kKBlock; ++e) {
    const int h = e / 128, t = (e % 128) / 32, l = e % 32;
    ql[64 * h + 32 * (t % 2) + l] |= static_cast<unsigned char>((L[e] & 15) << (t < 2 ? 0 : 4));
    qh[32 * h + l] |= static_cast<unsigned char>((L[e] >> 4) << (2 * t));
  }
}

// n elements of Q4_K (nmax 15) or Q5_K (nmax 31, `five`) by GGML's reference quantizer, or by its
// weighted one when `importance` (n values) is given; kSearchBlocks super-blocks searched at once.
void quantize_mins_format(const float* x, void* out, int64_t n, const float* importance, bool five) {
  auto* b = static_cast<unsigned char*>(out);
  const int nmax = five ? 31 : 15;
  const int64_t block_bytes = five ? kQ5_KBytes : kQ4_KBytes;
  uint8_t L[kSearchBlocks * kKBlock];
  float scales[kSearchBlocks * kSubBlocks], mins[kSearchBlocks * kSubBlocks], sub_weight[kSearchBlocks * kSubBlocks];
  for (int64_t i = 0; i < n / kKBlock; i += kSearchBlocks) {
    const int blocks = static_cast<int>(std::min<int64_t>(kSearchBlocks, n / kKBlock - i));
    const float* xi = x + i * kKBlock;
    fit_sub_blocks(xi, importance ? importance + i * kKBlock : nullptr, blocks, nmax, scales, mins, sub_weight, L);
    for (int k = 0; k < blocks; ++k, b += block_bytes) {
      finish_super_block(xi + k * kKBlock, nmax, scales + k * kSubBlocks, mins + k * kSubBlocks,
                         importance ? sub_weight + k * kSubBlocks : nullptr, b, L + k * kKBlock);
      pack_with_mins(L + k * kKBlock, five, b);
    }
  }
}

void quantize_q6_k_rows(const float* x, void* out, int64_t n, const float* importance) {
  auto* b = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < n / kKBlock; ++i, b += kQ6_KBytes, x += kKBlock)
    quantize_q6_k_block(x, importance ? importance + i * kKBlock : nullptr, b);
}

}  // namespace

void quantize_q4_k(const float* x, void* out, int64_t n) { quantize_mins_format(x, out, n, nullptr, false); }
void quantize_q5_k(const float* x, void* out, int64_t n) { quantize_mins_format(x, out, n, nullptr, true); }
void quantize_q6_k(const float* x, void* out, int64_t n) { quantize_q6_k_rows(x, out, n, nullptr); }
void quantize_q4_k_weighted(const float* x, void* out, int64_t n, const float* importance) {
  quantize_mins_format(x, out, n, importance, false);
}
void quantize_q5_k_weighted(const float* x, void* out, int64_t n, const float* importance) {
  quantize_mins_format(x, out, n, importance, true);
}
void quantize_q6_k_weighted(const float* x, void* out, int64_t n, const float* importance) {
  quantize_q6_k_rows(x, out, n, importance);
}

void dequantize_q4_k(const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / kKBlock; ++i, b += kQ4_KBytes, out += kKBlock)
    dequantize_with_mins(
        b, b + 16, [](int) { return 0; }, out);
}

void dequantize_q5_k(const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / kKBlock; ++i, b += kQ5_KBytes, out += kKBlock) {
    const unsigned char* qh = b + 16;
    dequantize_with_mins(
        b, b + 48, [qh](int e) { return fifth_bit(qh, e); }, out);
  }
}

void dequantize_q6_k(const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / kKBlock; ++i, b += kQ6_KBytes, out += kKBlock) {
    const unsigned char *ql = b, *qh = b + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = load_f16_scale(b + 208);
    for (int e = 0; e < kKBlock; ++e) out[e] = d * sc[e / 16] * static_cast<float>(six_bits(ql, qh, e) - 32);
  }
}

void decode_kblock(DType dt, const unsigned char* b, KBlockIntegers* out) {
  if (dt == DType::Q6_K) {
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    out->d = out->dmin = load_f16_scale(b + 208);
    for (int e = 0; e < kKBlock; ++e) out->q[e] = static_cast<uint8_t>(six_bits(b, b + 128, e));
    for (int g = 0; g < kSubBlocks6; ++g) {
      out->sc[g] = sc[g];
      out->m[g] = 32 * sc[g];
    }
    return;
  }
  const KHeader h = load_header(b);
  const bool five = dt == DType::Q5_K;
  const unsigned char* qs = b + (five ? 48 : 16);
  out->d = h.d;
  out->dmin = h.dmin;
  for (int e = 0; e < kKBlock; ++e)
    out->q[e] = static_cast<uint8_t>(nibble(qs, e) + (five ? fifth_bit(b + 16, e) : 0));
  for (int g = 0; g < kSubBlocks6; ++g) {
    out->sc[g] = h.sc[g / 2];
    out->m[g] = h.m[g / 2];
  }
}

void quantize_activations_k(const float* x, int64_t M, int64_t K, int64_t ldx, void* out) {
  const int64_t nb = K / kKBlock;
  for (int64_t m = 0; m < M; ++m) {
    auto* row = static_cast<unsigned char*>(out) + m * kquant_activation_row_bytes(K);
    auto* q = reinterpret_cast<int8_t*>(row);
    auto* d = reinterpret_cast<float*>(row + K);
    auto* sums = reinterpret_cast<int16_t*>(row + K + nb * 4);
    for (int64_t b = 0; b < nb; ++b) d[b] = quantize_int8(x + m * ldx + b * kKBlock, kKBlock, q + b * kKBlock);
    for (int64_t g = 0; g < K / kKSumGroup; ++g) {
      int sum = 0;
      for (int64_t k = 0; k < kKSumGroup; ++k) sum += q[g * kKSumGroup + k];
      sums[g] = static_cast<int16_t>(sum);
    }
  }
}

}  // namespace transformers::cpu
