// Attention as Transformers' eager attention runs under torch.autocast("cpu", torch.bfloat16)
// (training with bf16=true): matmul is on autocast's bf16 list, everything else keeps its
// input's dtype. Per query head, with r() rounding to bf16:
//   S = r(r(r(Q)·r(K)ᵀ) · r(scale))          matmul in bf16, then a bf16 tensor times a Python float
//                                            (torch rounds the scalar to bf16 first)
//   [softcap: S = r(r(tanh(r(S / r(cap)))) · r(cap))]
//   P = softmax(S + mask) in f32             the mask is f32, so the sum is f32
//   O = r(r(P) · r(V))                       autocast casts P to bf16 for the second matmul
// and the backward torch's autograd then runs: dP = r(r(dO)·r(V)ᵀ), dS = P ∘ (dP − rowsum(P ∘ dP))
// in f32, rounded to bf16 at the mask add (its input was bf16), the scale and softcap steps in
// bf16 (with the same bf16 scalars), dQ = r(dS·r(K)), dK_h = r(dSᵀ·r(Q)), dV_h = r(r(P)ᵀ·r(dO)). The heads of a KV group add
// their dK/dV in f32, or in bf16 (one rounding of the sum) where the input was a bf16 tensor
// (repeat_kv expanded it in bf16). Products accumulate in f32 (OpenBLAS), as torch's bf16 GEMM.
#include <cblas.h>

#include <cmath>
#include <vector>

#include "transformers/core/half.h"
#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/padding_mask.h"

namespace transformers::ops::cpu_impl {
namespace {

float r(float x) { return bf16_round(x); }
void round_all(std::vector<float>& v) {
  for (float& x : v) x = r(x);
}

// rows x cols of a strided [rows, cols] operand (contiguous last dimension), rounded to bf16.
std::vector<float> rounded_rows(const float* base, int64_t rows, int64_t cols, int64_t row_stride) {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = r(base[i * row_stride + j]);
  return out;
}

// C [m, n] = r(A·Bᵀ or A·B ...) through one f32 GEMM, then rounded to bf16.
void gemm_bf16(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
               float* c) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
              a, lda, b, ldb, 0.0f, c, n);
  for (int64_t i = 0; i < static_cast<int64_t>(m) * n; ++i) c[i] = r(c[i]);
}

struct HeadOperands {
  std::vector<float> q, k, v;  // r(Q) [L, D], r(K) [T, D], r(V) [T, Dv]
};

// The forward's scores and f32 probabilities of one head: S (after scale/softcap, bf16 values),
// the tanh values when softcapped, P [L, T] (0 where a key is invisible).
void probabilities(const HeadOperands& h, int64_t b, int64_t L, int64_t T, int64_t D, const AttentionParams& p,
                   std::vector<float>& tanh_out, std::vector<float>& P) {
  gemm_bf16(false, true, static_cast<int>(L), static_cast<int>(T), static_cast<int>(D), h.q.data(),
            static_cast<int>(D), h.k.data(), static_cast<int>(D), P.data());
  AttentionParams plain = p;
  plain.softcap = 0.0f;  // applied here, in bf16 steps
  const auto& K = cpu::kernels();
  const float scale = r(p.scale), cap = r(p.softcap);
  for (int64_t i = 0; i < L; ++i) {
    float* w = P.data() + i * T;
    for (int64_t j = 0; j < T; ++j) {
      w[j] = r(w[j] * scale);
      if (cap > 0.0f) {
        tanh_out[i * T + j] = r(std::tanh(r(w[j] / cap)));
        w[j] = r(tanh_out[i * T + j] * cap);
      }
    }
    const auto [lo, hi] = visible_keys(p, p.query_position + i, T);
    scores_to_probabilities(w, lo, hi, b, plain, K.softmax_row);
    for (int64_t j = 0; j < T; ++j)
      if (j < lo || j >= hi || !std::isfinite(w[j])) w[j] = 0.0f;
  }
}

HeadOperands operands(const Tensor& q, const Tensor& k, const Tensor& v, int64_t b, int64_t h, int64_t hk) {
  const int64_t L = q.size(2), D = q.size(3), T = k.size(2), Dv = v.size(3);
  return {rounded_rows(q.data<float>() + b * q.stride(0) + h * q.stride(1), L, D, q.stride(2)),
          rounded_rows(k.data<float>() + b * k.stride(0) + hk * k.stride(1), T, D, k.stride(2)),
          rounded_rows(v.data<float>() + b * v.stride(0) + hk * v.stride(1), T, Dv, v.stride(2))};
}

}  // namespace

void attention_bf16(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p, Tensor& out) {
  const int64_t B = q.size(0), Hq = q.size(1), L = q.size(2), D = q.size(3), Hkv = k.size(1), T = k.size(2),
                Dv = v.size(3), group = Hq / Hkv;
  cpu::ensure_blas_single_threaded();
  ThreadPool::global().parallel_for(B * Hq, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> P(static_cast<size_t>(L * T)), tanh_out(p.softcap > 0 ? P.size() : 0),
        O(static_cast<size_t>(L * Dv));
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t b = unit / Hq, h = unit % Hq;
      const HeadOperands ops = operands(q, k, v, b, h, h / group);
      probabilities(ops, b, L, T, D, p, tanh_out, P);
      round_all(P);
      gemm_bf16(false, false, static_cast<int>(L), static_cast<int>(Dv), static_cast<int>(T), P.data(),
                static_cast<int>(T), ops.v.data(), static_cast<int>(Dv), O.data());
      float* dst = out.data<float>() + b * L * Hq * Dv + h * Dv;
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = 0; j < Dv; ++j) dst[i * Hq * Dv + j] = O[i * Dv + j];
    }
  });
}

void attention_bf16_backward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                             const Tensor& dout, bool k_holds_bf16, bool v_holds_bf16, Tensor& dq, Tensor& dk,
                             Tensor& dv) {
  const int64_t B = q.size(0), Hq = q.size(1), L = q.size(2), D = q.size(3), Hkv = k.size(1), T = k.size(2),
                Dv = v.size(3), group = Hq / Hkv;
  cpu::ensure_blas_single_threaded();
  const int iL = static_cast<int>(L), iT = static_cast<int>(T), iD = static_cast<int>(D), iDv = static_cast<int>(Dv);
  const float scale = r(p.scale), cap = r(p.softcap);
  ThreadPool::global().parallel_for(B * Hkv, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> P(static_cast<size_t>(L * T)), Pr(P.size()), dS(P.size()),
        tanh_out(p.softcap > 0 ? P.size() : 0), g(static_cast<size_t>(L * Dv)), dKh(static_cast<size_t>(T * D)),
        dVh(static_cast<size_t>(T * Dv)), dKsum(dKh.size()), dVsum(dVh.size());
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t b = unit / Hkv, hk = unit % Hkv;
      std::fill(dKsum.begin(), dKsum.end(), 0.0f);
      std::fill(dVsum.begin(), dVsum.end(), 0.0f);
      for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
        const HeadOperands ops = operands(q, k, v, b, h, hk);
        probabilities(ops, b, L, T, D, p, tanh_out, P);
        for (size_t i = 0; i < P.size(); ++i) Pr[i] = r(P[i]);
        const float* dob = dout.data<float>() + b * L * Hq * Dv + h * Dv;
        for (int64_t i = 0; i < L; ++i)
          for (int64_t j = 0; j < Dv; ++j) g[i * Dv + j] = r(dob[i * Hq * Dv + j]);
        gemm_bf16(false, true, iL, iT, iDv, g.data(), iDv, ops.v.data(), iDv, dS.data());  // dP
        for (int64_t i = 0; i < L; ++i) {
          const float* w = P.data() + i * T;
          float* ds = dS.data() + i * T;
          double delta = 0.0;
          for (int64_t j = 0; j < T; ++j) delta += static_cast<double>(w[j]) * ds[j];
          for (int64_t j = 0; j < T; ++j) {
            float s = r(w[j] * static_cast<float>(ds[j] - delta));  // softmax backward, into bf16 scores
            if (cap > 0.0f) {
              const float t = tanh_out[i * T + j];
              s = r(r(r(s * cap) * (1.0f - t * t)) / cap);
            }
            ds[j] = r(s * scale);
          }
        }
        gemm_bf16(false, false, iL, iD, iT, dS.data(), iT, ops.k.data(), iD,
                  dq.data<float>() + (b * Hq + h) * L * D);
        gemm_bf16(true, false, iT, iD, iL, dS.data(), iT, ops.q.data(), iD, dKh.data());
        gemm_bf16(true, false, iT, iDv, iL, Pr.data(), iT, g.data(), iDv, dVh.data());
        for (size_t i = 0; i < dKh.size(); ++i) dKsum[i] += dKh[i];
        for (size_t i = 0; i < dVh.size(); ++i) dVsum[i] += dVh[i];
      }
      float* dkb = dk.data<float>() + (b * Hkv + hk) * T * D;
      float* dvb = dv.data<float>() + (b * Hkv + hk) * T * Dv;
      for (size_t i = 0; i < dKsum.size(); ++i) dkb[i] = k_holds_bf16 ? r(dKsum[i]) : dKsum[i];
      for (size_t i = 0; i < dVsum.size(); ++i) dvb[i] = v_holds_bf16 ? r(dVsum[i]) : dVsum[i];
    }
  });
}

}  // namespace transformers::ops::cpu_impl
