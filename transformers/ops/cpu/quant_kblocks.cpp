#include "transformers/ops/cpu/quant_kblocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "transformers/ops/cpu/quant_blocks.h"

namespace transformers::cpu {
namespace {

constexpr int kSub = 32;                      // elements per scale of Q4_K / Q5_K
constexpr int kSubBlocks = kKBlock / kSub;    // 8
constexpr int kSub6 = 16;                     // elements per scale of Q6_K
constexpr int kSubBlocks6 = kKBlock / kSub6;  // 16

// Round half to even, as GGML's nearest_int (its float trick equals this for |v| < 2^22).
int nearest(float v) { return static_cast<int>(std::nearbyintf(v)); }

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

// Fits x[0, n) ~ scale * L - min with integers L in [0, nmax] and min >= 0, minimising the
// weighted squared error over a few trial scales (GGML's make_qkx2_quants: the plain min/max
// grid first, then nstep + 1 grids of (nmax + rmin + rdelta * i) steps, each refined by the
// weighted least-squares scale and min for its L). Returns the scale; sets *min_out and L.
// Float arithmetic in GGML's order, so the bytes match its quantizer's.
float fit_scale_min(const float* x, const float* w, int n, int nmax, float rmin, float rdelta,
                    int nstep, uint8_t* L, float* min_out) {
  float lo = x[0], hi = x[0];
  float sum_w = w[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    std::fill(L, L + n, 0);
    *min_out = -lo;
    return 0.0f;
  }
  auto quantize_all = [&](float iscale, uint8_t* q) {
    for (int i = 0; i < n; ++i)
      q[i] = static_cast<uint8_t>(std::clamp(nearest(iscale * (x[i] - lo)), 0, nmax));
  };
  auto error = [&](const uint8_t* q, float scale, float min) {
    float e = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = scale * q[i] + min - x[i];
      e += w[i] * (diff * diff);
    }
    return e;
  };
  float iscale = nmax / (hi - lo);
  float scale = 1 / iscale, min = lo;
  quantize_all(iscale, L);
  float best = error(L, scale, min);
  uint8_t trial[kSub];
  for (int step = 0; step <= nstep; ++step) {
    quantize_all((rmin + rdelta * step + nmax) / (hi - lo), trial);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const float l = trial[i];
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0)) continue;
    float s = (sum_w * sum_xl - sum_x * sum_l) / det;
    float m = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (m > 0) {  // a positive offset is not representable: refit the scale alone
      m = 0;
      s = sum_xl / sum_l2;
    }
    const float e = error(trial, s, m);
    if (e < best) {
      std::copy(trial, trial + n, L);
      best = e;
      scale = s;
      min = m;
    }
  }
  *min_out = -min;
  return scale;
}

// One super-block of Q4_K (nmax 15) or Q5_K (nmax 31): the header, and the integer L of each
// element in [0, nmax] (packed by the caller).
void quantize_with_mins(const float* x, int nmax, float rmin, int nstep, unsigned char* header,
                        uint8_t* L) {
  float scales[kSubBlocks], mins[kSubBlocks], weights[kSub];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kSubBlocks; ++j) {
    const float* xs = x + kSub * j;
    float sum_x2 = 0;
    for (int l = 0; l < kSub; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / kSub);
    // Weighting by |x| over the block's rms: large weights matter more.
    for (int l = 0; l < kSub; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = fit_scale_min(xs, weights, kSub, nmax, rmin, 0.1f, nstep, L + kSub * j, &mins[j]);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t sc[kSubBlocks], m[kSubBlocks];
  for (int j = 0; j < kSubBlocks; ++j) {
    // GGML stores nearest_int's result in a uint8_t before clamping to 63.
    sc[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest(inv_scale * scales[j])));
    m[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest(inv_min * mins[j])));
  }
  store_header(header, max_scale / 63.f, max_min / 63.f, sc, m);
  // Re-round every element against the scales as stored (6-bit, under the f16 d and dmin).
  const KHeader h = load_header(header);
  for (int j = 0; j < kSubBlocks; ++j) {
    const float d = h.d * h.sc[j];
    if (d == 0) continue;
    const float dm = h.dmin * h.m[j];
    for (int l = 0; l < kSub; ++l)
      L[kSub * j + l] =
          static_cast<uint8_t>(std::clamp(nearest((x[kSub * j + l] + dm) / d), 0, nmax));
  }
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

// ---- Q6_K: a signed int8 scale per 16 under one f16 d; q in [-32, 31].

// Fits x[0, n) ~ scale * (L - nmax) with L - nmax in [-nmax, nmax - 1], weighting each element
// by x^2: the grid through the element largest in magnitude, then 18 neighbouring grids, keeping
// the one of best weighted fit (GGML's make_qx_quants, rmse_type 1). Returns the scale.
float fit_signed_scale(const float* x, int n, int nmax, uint8_t* L) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  if (amax < 1e-15f) {
    std::fill(L, L + n, 0);
    return 0.0f;
  }
  auto level = [&](float iscale, int i) {
    return std::clamp(nearest(iscale * x[i]), -nmax, nmax - 1);
  };
  // sum w x l and sum w l^2 of a grid (w = x^2)
  auto sums = [&](float iscale, float& sumlx, float& suml2) {
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = level(iscale, i);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
  };
  auto keep = [&](float iscale) {
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nmax + level(iscale, i));
  };
  float iscale = -nmax / max, sumlx, suml2;
  sums(iscale, sumlx, suml2);
  keep(iscale);
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(nmax + 0.1f * step) / max;
    sums(iscale, sumlx, suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      keep(iscale);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

}  // namespace

void quantize_q4_k(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  uint8_t L[kKBlock];
  for (int64_t i = 0; i < n / kKBlock; ++i, b += kQ4_KBytes, x += kKBlock) {
    quantize_with_mins(x, 15, -1.0f, 20, b, L);
    pack_nibbles(L, b + 16);
  }
}

void quantize_q5_k(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  uint8_t L[kKBlock];
  for (int64_t i = 0; i < n / kKBlock; ++i, b += kQ5_KBytes, x += kKBlock) {
    quantize_with_mins(x, 31, -0.5f, 15, b, L);
    unsigned char* qh = b + 16;
    std::memset(qh, 0, 32);
    for (int e = 0; e < kKBlock; ++e)
      if (L[e] > 15) qh[e % 32] = static_cast<unsigned char>(qh[e % 32] | 1 << (e / 32));
    pack_nibbles(L, b + 48);
  }
}

void quantize_q6_k(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < n / kKBlock; ++i, b += kQ6_KBytes, x += kKBlock) {
    uint8_t L[kKBlock];
    float scales[kSubBlocks6];
    float max_scale = 0, max_abs = 0;
    for (int j = 0; j < kSubBlocks6; ++j) {
      scales[j] = fit_signed_scale(x + kSub6 * j, kSub6, 32, L + kSub6 * j);
      if (std::fabs(scales[j]) > max_abs) {
        max_abs = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    std::memset(b, 0, kQ6_KBytes);
    if (max_abs < 1e-15f) continue;  // all zero: d = 0
    auto* sc = reinterpret_cast<int8_t*>(b + 192);
    const float iscale = -128.f / max_scale;
    store_f16_scale(b + 208, 1 / iscale);
    for (int j = 0; j < kSubBlocks6; ++j)
      sc[j] = static_cast<int8_t>(std::min(127, nearest(iscale * scales[j])));
    const float d_all = load_f16_scale(b + 208);
    for (int j = 0; j < kSubBlocks6; ++j) {
      const float d = d_all * sc[j];
      if (d == 0) continue;
      for (int l = 0; l < kSub6; ++l)
        L[kSub6 * j + l] =
            static_cast<uint8_t>(32 + std::clamp(nearest(x[kSub6 * j + l] / d), -32, 31));
    }
    unsigned char *ql = b, *qh = b + 128;
    for (int e = 0; e < kKBlock; ++e) {
      const int h = e / 128, t = (e % 128) / 32, l = e % 32;
      ql[64 * h + 32 * (t % 2) + l] |= static_cast<unsigned char>((L[e] & 15) << (t < 2 ? 0 : 4));
      qh[32 * h + l] |= static_cast<unsigned char>((L[e] >> 4) << (2 * t));
    }
  }
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
