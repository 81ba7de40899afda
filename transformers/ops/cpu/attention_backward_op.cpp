// Attention's backward, one task per (batch row, KV head): for each query head of the group the
// probabilities P are recomputed (scores by GEMM, then the forward's masking rules through
// scores_to_probabilities), and
//   dP = dO·Vᵀ,  dS = P ∘ (dP − rowsum(P ∘ dP)) [∘ (1 − (capped/cap)²) with softcap],
//   dQ = scale·dS·K,  dK += scale·dSᵀ·Q,  dV += Pᵀ·dO.
// The group's heads add into their shared KV head's dK/dV within one task, so tasks never share
// an output row.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/padding_mask.h"

namespace transformers::ops::cpu_impl {

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                        const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) {
  const int64_t B = q.size(0), Hq = q.size(1), L = q.size(2), D = q.size(3), Hkv = k.size(1),
                T = k.size(2), Dv = v.size(3), group = Hq / Hkv;
  std::fill_n(dk.data<float>(), dk.numel(), 0.0f);
  std::fill_n(dv.data<float>(), dv.numel(), 0.0f);
  if (L == 0 || T == 0) {
    std::fill_n(dq.data<float>(), dq.numel(), 0.0f);
    return;
  }
  const auto& K = cpu::kernels();
  cpu::ensure_blas_single_threaded();
  const int iL = static_cast<int>(L), iT = static_cast<int>(T), iD = static_cast<int>(D),
            iDv = static_cast<int>(Dv);
  const int ldo = static_cast<int>(Hq * Dv);
  ThreadPool::global().parallel_for(B * Hkv, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> P(static_cast<size_t>(L * T)), dS(P.size()),
        capped(p.softcap > 0 ? P.size() : 0);
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
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, iL, iT, iD, p.scale, qb,
                    static_cast<int>(q.stride(2)), kb, static_cast<int>(k.stride(2)), 0.0f,
                    P.data(), iT);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, iL, iT, iDv, 1.0f, dob, ldo, vb,
                    static_cast<int>(v.stride(2)), 0.0f, dS.data(), iT);
        for (int64_t i = 0; i < L; ++i) {
          float* w = P.data() + i * T;
          float* ds = dS.data() + i * T;
          float* cap = capped.empty() ? nullptr : capped.data() + i * T;
          const auto [lo, hi] = visible_keys(p, p.query_position + i, T);
          scores_to_probabilities(w, lo, hi, b, p, K.softmax_row, cap);
          double delta = 0.0;
          for (int64_t j = 0; j < T; ++j) {
            if (j < lo || j >= hi || !std::isfinite(w[j]))
              w[j] = 0.0f;  // invisible, or a row with no key
            delta += static_cast<double>(w[j]) * ds[j];
          }
          for (int64_t j = 0; j < T; ++j) {
            float g = w[j] * static_cast<float>(ds[j] - delta);
            if (cap && w[j] != 0.0f) g *= 1.0f - (cap[j] / p.softcap) * (cap[j] / p.softcap);
            ds[j] = g;
          }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, iL, iD, iT, p.scale, dS.data(), iT,
                    kb, static_cast<int>(k.stride(2)), 0.0f, dqb, iD);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, iT, iD, iL, p.scale, dS.data(), iT, qb,
                    static_cast<int>(q.stride(2)), 1.0f, dkb, iD);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, iT, iDv, iL, 1.0f, P.data(), iT, dob,
                    ldo, 1.0f, dvb, iDv);
      }
    }
  });
}

}  // namespace transformers::ops::cpu_impl
