// Cross-entropy over rows of logits: log-sum-exp per row in double, the loss summed in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/cpu_backward.h"

namespace transformers::ops::cpu_impl {

namespace {
// max and log(sum(exp(x - max))) of one row.
std::pair<double, double> log_sum_exp(const float* x, int64_t V) {
  double m = -INFINITY;
  for (int64_t j = 0; j < V; ++j) m = std::max<double>(m, x[j]);
  double s = 0.0;
  for (int64_t j = 0; j < V; ++j) s += std::exp(x[j] - m);
  return {m, std::log(s)};
}
}  // namespace

double cross_entropy(const Tensor& logits, const Tensor& labels, int64_t ignore_index) {
  const int64_t N = logits.size(0), V = logits.size(1);
  const float* x = logits.data<float>();
  const int64_t* y = labels.data<int64_t>();
  // Per-row losses in parallel, summed in row order (the same total whatever the split).
  std::vector<double> row_loss(static_cast<size_t>(N), 0.0);
  ThreadPool::global().parallel_for(N, 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (y[r] == ignore_index) continue;
      const auto [m, lse] = log_sum_exp(x + r * V, V);
      row_loss[static_cast<size_t>(r)] = m + lse - x[r * V + y[r]];
    }
  });
  double total = 0.0;
  for (double l : row_loss) total += l;
  return total;
}

void cross_entropy_backward(const Tensor& logits, const Tensor& labels, int64_t ignore_index,
                            float g, Tensor& dlogits) {
  const int64_t N = logits.size(0), V = logits.size(1);
  const float* x = logits.data<float>();
  const int64_t* y = labels.data<int64_t>();
  float* out = dlogits.data<float>();
  ThreadPool::global().parallel_for(N, 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* o = out + r * V;
      if (y[r] == ignore_index) {
        std::fill_n(o, V, 0.0f);
        continue;
      }
      const auto [m, lse] = log_sum_exp(x + r * V, V);
      for (int64_t j = 0; j < V; ++j)
        o[j] = static_cast<float>(g * std::exp(x[r * V + j] - m - lse));
      o[y[r]] -= g;
    }
  });
}

}  // namespace transformers::ops::cpu_impl
