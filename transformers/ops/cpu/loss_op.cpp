// Cross-entropy over rows of logits: log-sum-exp per row in double, the loss summed in double.
#include <cmath>

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
  double total = 0.0;
  for (int64_t r = 0; r < N; ++r) {
    if (y[r] == ignore_index) continue;
    const auto [m, lse] = log_sum_exp(x + r * V, V);
    total += m + lse - x[r * V + y[r]];
  }
  return total;
}

void cross_entropy_backward(const Tensor& logits, const Tensor& labels, int64_t ignore_index,
                            float g, Tensor& dlogits) {
  const int64_t N = logits.size(0), V = logits.size(1);
  const float* x = logits.data<float>();
  const int64_t* y = labels.data<int64_t>();
  float* out = dlogits.data<float>();
  for (int64_t r = 0; r < N; ++r) {
    float* o = out + r * V;
    if (y[r] == ignore_index) {
      std::fill_n(o, V, 0.0f);
      continue;
    }
    const auto [m, lse] = log_sum_exp(x + r * V, V);
    for (int64_t j = 0; j < V; ++j) o[j] = static_cast<float>(g * std::exp(x[r * V + j] - m - lse));
    o[y[r]] -= g;
  }
}

}  // namespace transformers::ops::cpu_impl
