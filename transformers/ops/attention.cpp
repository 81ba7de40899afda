// Eager scaled dot-product attention, one (batch, query head, query) row per task: scores over
// the visible keys, softmax in f32, weighted sum of values. Grouped-query attention indexes the
// shared K/V head directly (h / group) instead of repeating it in memory.
#include <cmath>
#include <vector>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/ops.h"

namespace transformers::ops {

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p) {
  for (const Tensor* t : {&q, &k, &v})
    TCPP_CHECK(t->dtype() == DType::F32 && t->dim() == 4 && t->stride(3) == 1, ShapeError,
               "attention: expected f32 [B, H, L, D] with contiguous D, got ", t->describe());
  const int64_t B = q.size(0), Hq = q.size(1), L = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), T = k.size(2), Dv = v.size(3);
  TCPP_CHECK(k.size(0) == B && v.size(0) == B && k.size(3) == D && v.size(1) == Hkv && v.size(2) == T && Hkv > 0 &&
                 Hq % Hkv == 0,
             ShapeError, "attention: q ", q.describe(), ", k ", k.describe(), ", v ", v.describe(), " do not fit");
  if (p.key_padding_mask)
    TCPP_CHECK(p.key_padding_mask->dim() == 2 && p.key_padding_mask->size(0) == B &&
                   p.key_padding_mask->size(1) >= p.key_position + T && p.key_padding_mask->is_contiguous(),
               ShapeError, "attention: key padding mask ", p.key_padding_mask->describe(), " does not cover ",
               p.key_position + T, " keys");
  const int64_t group = Hq / Hkv;
  Tensor out = Tensor::empty({B, L, Hq * Dv}, DType::F32);
  const auto& K = cpu::kernels();

  ThreadPool::global().parallel_for(B * Hq * L, 4, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(T);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t i = row % L, h = (row / L) % Hq, b = row / (L * Hq), hk = h / group;
      const float* qrow = q.data<float>() + b * q.stride(0) + h * q.stride(1) + i * q.stride(2);
      const float* kbase = k.data<float>() + b * k.stride(0) + hk * k.stride(1);
      const float* vbase = v.data<float>() + b * v.stride(0) + hk * v.stride(1);
      const int64_t qpos = p.query_position + i;
      // Visible keys form one contiguous range [lo, hi) of cache positions, minus padding.
      int64_t hi = p.causal ? std::min<int64_t>(T, qpos - p.key_position + 1) : T;
      int64_t lo = 0;
      if (p.sliding_window) lo = std::max<int64_t>(0, qpos - *p.sliding_window + 1 - p.key_position);
      float* out_row = out.data<float>() + (b * L + i) * Hq * Dv + h * Dv;
      std::fill(out_row, out_row + Dv, 0.0f);
      if (hi <= lo) continue;
      const int64_t* mask = nullptr;
      std::vector<int64_t> mask_buf;
      if (p.key_padding_mask) {
        const Tensor& m = *p.key_padding_mask;
        mask_buf.resize(T);
        for (int64_t j = 0; j < T; ++j) {
          int64_t col = p.key_position + j;
          mask_buf[j] = m.dtype() == DType::I64 ? m.data<int64_t>()[b * m.size(1) + col]
                        : m.dtype() == DType::I32 ? m.data<int32_t>()[b * m.size(1) + col]
                                                   : static_cast<const uint8_t*>(m.raw_data())[b * m.size(1) + col];
        }
        mask = mask_buf.data();
      }
      for (int64_t j = lo; j < hi; ++j) {
        if (mask && !mask[j]) {
          scores[j] = -INFINITY;
          continue;
        }
        float s = K.dot(qrow, kbase + j * k.stride(2), D) * p.scale;
        if (p.softcap > 0.0f) s = p.softcap * std::tanh(s / p.softcap);
        scores[j] = s;
      }
      K.softmax_row(scores.data() + lo, hi - lo);
      for (int64_t j = lo; j < hi; ++j)
        if (scores[j] != 0.0f) K.axpy(scores[j], vbase + j * v.stride(2), out_row, Dv);
    }
  });
  return out;
}

}  // namespace transformers::ops
