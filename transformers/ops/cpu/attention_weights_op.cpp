// CPU attention probabilities for output_attentions: a plain per-row computation (scores, mask,
// softcap, softmax) that follows the fused op's rules through visible_keys().
#include <cmath>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/padding_mask.h"

namespace transformers::ops::cpu_impl {

void attention_weights(const Tensor& q, const Tensor& k, const AttentionParams& p, Tensor& out) {
  const int64_t B = q.size(0), Hq = q.size(1), L = q.size(2), D = q.size(3), T = k.size(2);
  const int64_t group = Hq / k.size(1);
  const auto& K = cpu::kernels();
  ThreadPool::global().parallel_for(B * Hq * L, 4, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t i = row % L, h = (row / L) % Hq, b = row / (L * Hq);
      const float* qrow = q.data<float>() + b * q.stride(0) + h * q.stride(1) + i * q.stride(2);
      const float* kbase = k.data<float>() + b * k.stride(0) + (h / group) * k.stride(1);
      float* w = out.data<float>() + row * T;
      auto [lo, hi] = visible_keys(p, p.query_position + i, T);
      if (lo >= hi) continue;
      for (int64_t j = lo; j < hi; ++j) w[j] = K.dot(qrow, kbase + j * k.stride(2), D) * p.scale;
      scores_to_probabilities(w, lo, hi, b, p, K.softmax_row);
    }
  });
}

}  // namespace transformers::ops::cpu_impl
