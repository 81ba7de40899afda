// Attention's backward, one task per (batch row, KV head): for each query head of the group the
// probabilities P are recomputed (scores as dot products, then the forward's masking rules
// through scores_to_probabilities), and
//   dP = dO·Vᵀ,  dS = P ∘ (dP − rowsum(P ∘ dP)) [∘ (1 − (capped/cap)²) with softcap],
//   dQ = scale·dS·K,  dK += scale·dSᵀ·Q,  dV += Pᵀ·dO.
// The products run on the tier's attention tiles (dot_tile, matmul_acc_tile), block by block,
// over the keys each block of queries can see (and the queries each block of keys is seen by):
// under a causal mask the invisible half of every square is never computed. dSᵀ and Pᵀ come from
// the tier's transpose. The group's heads add into their shared KV head's dK/dV within one task,
// so tasks never share an output row.
#include <algorithm>
#include <cmath>
#include <vector>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/padding_mask.h"

namespace transformers::ops::cpu_impl {

namespace {
constexpr int64_t kBlock = 32;  // queries (keys) a block

// The union [lo, hi) of the key ranges of rows [r0, r1) (empty: lo >= hi).
std::pair<int64_t, int64_t> span(const std::vector<std::pair<int64_t, int64_t>>& ranges, int64_t r0, int64_t r1) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (int64_t r = r0; r < r1; ++r)
    if (ranges[r].first < ranges[r].second) {
      lo = std::min(lo, ranges[r].first);
      hi = std::max(hi, ranges[r].second);
    }
  return {lo, hi};
}
}  // namespace

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                        const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) {
  const int64_t B = q.size(0), Hq = q.size(1), L = q.size(2), D = q.size(3), Hkv = k.size(1),
                T = k.size(2), Dv = v.size(3), group = Hq / Hkv;
  std::fill_n(dk.data<float>(), dk.numel(), 0.0f);
  std::fill_n(dv.data<float>(), dv.numel(), 0.0f);
  std::fill_n(dq.data<float>(), dq.numel(), 0.0f);
  if (L == 0 || T == 0) return;
  const auto& K = cpu::kernels();
  const int64_t ldq = q.stride(2), ldk = k.stride(2), ldv = v.stride(2), ldo = Hq * Dv;
  // Each query's visible keys, and for each block of keys the queries that see any of them.
  std::vector<std::pair<int64_t, int64_t>> keys_of(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) keys_of[i] = visible_keys(p, p.query_position + i, T);
  std::vector<std::pair<int64_t, int64_t>> queries_of_block;
  for (int64_t j0 = 0; j0 < T; j0 += kBlock) {
    const int64_t j1 = std::min(T, j0 + kBlock);
    int64_t lo = L, hi = 0;
    for (int64_t i = 0; i < L; ++i)
      if (keys_of[i].first < j1 && keys_of[i].second > j0 && keys_of[i].first < keys_of[i].second) {
        lo = std::min(lo, i);
        hi = std::max(hi, i + 1);
      }
    queries_of_block.emplace_back(lo, hi);
  }
  ThreadPool::global().parallel_for(B * Hkv, 1, [&](int64_t begin, int64_t end) {
    // P and dS [L, T], their transposes [T, L].
    std::vector<float> P(static_cast<size_t>(L * T)), dS(P.size()), Pt(P.size()), dSt(P.size()),
        capped(p.softcap > 0 ? T : 0);
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t b = unit / Hkv, hk = unit % Hkv;
      const float* kb = k.data<float>() + b * k.stride(0) + hk * k.stride(1);
      const float* vb = v.data<float>() + b * v.stride(0) + hk * v.stride(1);
      float* dkb = dk.data<float>() + (b * Hkv + hk) * T * D;
      float* dvb = dv.data<float>() + (b * Hkv + hk) * T * Dv;
      for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
        const float* qb = q.data<float>() + b * q.stride(0) + h * q.stride(1);
        const float* dob = dout.data<float>() + b * L * Hq * Dv + h * Dv;
        float* dqb = dq.data<float>() + (b * Hq + h) * L * D;
        for (int64_t i0 = 0; i0 < L; i0 += kBlock) {
          const int64_t i1 = std::min(L, i0 + kBlock), rows = i1 - i0;
          const auto [klo, khi] = span(keys_of, i0, i1);
          if (klo < khi) {
            K.dot_tile(qb + i0 * ldq, ldq, rows, kb + klo * ldk, ldk, khi - klo, D, P.data() + i0 * T + klo, T);
            K.dot_tile(dob + i0 * ldo, ldo, rows, vb + klo * ldv, ldv, khi - klo, Dv, dS.data() + i0 * T + klo, T);
          }
          for (int64_t i = i0; i < i1; ++i) {
            float* w = P.data() + i * T;
            float* ds = dS.data() + i * T;
            const auto [lo, hi] = keys_of[i];
            std::fill(w, w + std::max<int64_t>(lo, 0), 0.0f);
            std::fill(ds, ds + std::max<int64_t>(lo, 0), 0.0f);
            std::fill(w + std::max(lo, hi), w + T, 0.0f);
            std::fill(ds + std::max(lo, hi), ds + T, 0.0f);
            if (lo >= hi) continue;
            for (int64_t j = lo; j < hi; ++j) w[j] *= p.scale;
            float* cap = capped.empty() ? nullptr : capped.data();
            scores_to_probabilities(w, lo, hi, b, p, K.softmax_row, cap);
            double delta = 0.0;
            for (int64_t j = lo; j < hi; ++j) {
              if (!std::isfinite(w[j])) w[j] = 0.0f;  // a row with no key
              delta += static_cast<double>(w[j]) * ds[j];
            }
            // dS, times the scale that dQ and dK both carry.
            for (int64_t j = lo; j < hi; ++j) {
              float g = w[j] * static_cast<float>(ds[j] - delta);
              if (cap && w[j] != 0.0f) g *= 1.0f - (cap[j] / p.softcap) * (cap[j] / p.softcap);
              ds[j] = g * p.scale;
            }
          }
          if (klo < khi)
            K.matmul_acc_tile(dS.data() + i0 * T + klo, T, rows, khi - klo, kb + klo * ldk, ldk, dqb + i0 * D, D, D);
        }
        K.transpose(P.data(), L, T, T, Pt.data(), L);
        K.transpose(dS.data(), L, T, T, dSt.data(), L);
        for (int64_t j0 = 0, blk = 0; j0 < T; j0 += kBlock, ++blk) {
          const int64_t j1 = std::min(T, j0 + kBlock);
          const auto [qlo, qhi] = queries_of_block[blk];
          if (qlo >= qhi) continue;
          K.matmul_acc_tile(dSt.data() + j0 * L + qlo, L, j1 - j0, qhi - qlo, qb + qlo * ldq, ldq, dkb + j0 * D, D, D);
          K.matmul_acc_tile(Pt.data() + j0 * L + qlo, L, j1 - j0, qhi - qlo, dob + qlo * ldo, ldo, dvb + j0 * Dv, Dv,
                            Dv);
        }
      }
    }
  });
}

}  // namespace transformers::ops::cpu_impl
