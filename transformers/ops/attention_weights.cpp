// Attention probabilities for output_attentions: a plain per-row computation (scores, mask,
// softcap, softmax) that follows the fused op's rules through visible_keys().
#include <cmath>
#include <vector>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/checks.h"
#include "transformers/ops/ops.h"

namespace transformers::ops {

std::pair<int64_t, int64_t> visible_keys(const AttentionParams& p, int64_t qpos, int64_t T) {
  // Not causal: a window is symmetric (ModernBERT's local layers), |query - key| < window.
  const int64_t hi = p.causal           ? std::clamp<int64_t>(qpos - p.key_position + 1, 0, T)
                     : p.sliding_window ? std::clamp<int64_t>(qpos + *p.sliding_window - p.key_position, 0, T)
                                        : T;
  const int64_t lo = p.sliding_window ? std::clamp<int64_t>(qpos - *p.sliding_window + 1 - p.key_position, 0, T) : 0;
  return {lo, hi};
}

namespace {
bool key_is_real(const Tensor* mask, int64_t b, int64_t col) {
  if (!mask) return true;
  const int64_t i = b * mask->size(1) + col;
  switch (mask->dtype()) {
    case DType::I64: return mask->data<int64_t>()[i] != 0;
    case DType::I32: return mask->data<int32_t>()[i] != 0;
    default: return static_cast<const uint8_t*>(mask->raw_data())[i] != 0;
  }
}
}  // namespace

Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionParams& p) {
  checks::require_one_device("attention_weights", {&q, &k, p.key_padding_mask});
  for (const Tensor* t : {&q, &k})
    TCPP_CHECK(t->dtype() == DType::F32 && t->dim() == 4 && t->stride(3) == 1, ShapeError,
               "attention_weights: expected f32 [B, H, L, D] with contiguous D, got ", t->describe());
  const int64_t B = q.size(0), Hq = q.size(1), L = q.size(2), D = q.size(3), Hkv = k.size(1), T = k.size(2);
  TCPP_CHECK(k.size(0) == B && k.size(3) == D && Hkv > 0 && Hq % Hkv == 0, ShapeError, "attention_weights: q ",
             q.describe(), " and k ", k.describe(), " do not fit");
  const int64_t group = Hq / Hkv;
  Tensor out = Tensor::zeros({B, Hq, L, T}, DType::F32);
  const auto& K = cpu::kernels();
  ThreadPool::global().parallel_for(B * Hq * L, 4, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t i = row % L, h = (row / L) % Hq, b = row / (L * Hq);
      const float* qrow = q.data<float>() + b * q.stride(0) + h * q.stride(1) + i * q.stride(2);
      const float* kbase = k.data<float>() + b * k.stride(0) + (h / group) * k.stride(1);
      float* w = out.data<float>() + row * T;
      auto [lo, hi] = visible_keys(p, p.query_position + i, T);
      if (lo >= hi) continue;
      for (int64_t j = lo; j < hi; ++j) {
        if (!key_is_real(p.key_padding_mask, b, p.key_position + j)) {
          w[j] = -INFINITY;
          continue;
        }
        float s = K.dot(qrow, kbase + j * k.stride(2), D) * p.scale;
        if (p.softcap > 0.0f) s = p.softcap * std::tanh(s / p.softcap);
        w[j] = s;
      }
      K.softmax_row(w + lo, hi - lo);
    }
  });
  return out;
}

}  // namespace transformers::ops
