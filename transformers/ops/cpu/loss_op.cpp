// Cross-entropy over rows of logits, the loss summed in double in row order (the same total
// whatever the split over threads). Two forms of each row's log-sum-exp:
//  - cross_entropy (inference, evaluation, the finite-difference checks): exps and their sum in
//    double, so that the loss is smooth to ~1e-16 in the logits;
//  - cross_entropy_saving_lse (training): exps in f32 through the tier's vector exp
//    (kernels().exp_shift_sum), their sum's log in double, and each row's log-sum-exp kept for
//    the backward, which then needs one exp per logit and no second reduction.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/cpu/kernels.h"

namespace transformers::ops::cpu_impl {

namespace {
constexpr int64_t kRowsPerTask = 4;

// max of a row, in eight independent lanes (a single running max is a serial dependency chain).
float row_max(const float* x, int64_t V) {
  float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t j = 0;
  for (; j + 8 <= V; j += 8)
    for (int l = 0; l < 8; ++l) m[l] = std::max(m[l], x[j + l]);
  for (; j < V; ++j) m[0] = std::max(m[0], x[j]);
  return *std::max_element(m, m + 8);
}

// log(sum(exp(x))) of one row, all in double.
double log_sum_exp_double(const float* x, int64_t V) {
  const double m = row_max(x, V);
  double s = 0.0;
  for (int64_t j = 0; j < V; ++j) s += std::exp(x[j] - m);
  return m + std::log(s);
}

// The summed loss of the counted rows, lse(row, scratch) giving each row's log-sum-exp
// (scratch: V floats of the calling task).
template <typename Lse>
double summed_loss(const Tensor& logits, const Tensor& labels, int64_t ignore_index, Lse&& lse) {
  const int64_t N = logits.size(0), V = logits.size(1);
  const float* x = logits.data<float>();
  const int64_t* y = labels.data<int64_t>();
  std::vector<double> row_loss(static_cast<size_t>(N), 0.0);
  ThreadPool::global().parallel_for(N, kRowsPerTask, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(static_cast<size_t>(V));
    for (int64_t r = begin; r < end; ++r)
      if (y[r] != ignore_index) row_loss[static_cast<size_t>(r)] = lse(r, scratch.data()) - x[r * V + y[r]];
  });
  double total = 0.0;
  for (double l : row_loss) total += l;
  return total;
}
}  // namespace

double cross_entropy(const Tensor& logits, const Tensor& labels, int64_t ignore_index) {
  const int64_t V = logits.size(1);
  const float* x = logits.data<float>();
  return summed_loss(logits, labels, ignore_index,
                     [&](int64_t r, float*) { return log_sum_exp_double(x + r * V, V); });
}

double cross_entropy_saving_lse(const Tensor& logits, const Tensor& labels, int64_t ignore_index,
                                float* row_lse) {
  const int64_t V = logits.size(1);
  const float* x = logits.data<float>();
  const auto exp_shift_sum = cpu::kernels().exp_shift_sum;
  return summed_loss(logits, labels, ignore_index, [&](int64_t r, float* scratch) {
    const float* row = x + r * V;
    const float m = row_max(row, V);
    std::memcpy(scratch, row, static_cast<size_t>(V) * sizeof(float));
    const double lse = m + std::log(static_cast<double>(exp_shift_sum(scratch, m, V)));
    row_lse[r] = static_cast<float>(lse);
    return lse;
  });
}

void cross_entropy_backward(const Tensor& logits, const Tensor& labels, int64_t ignore_index,
                            const float* row_lse, float g, Tensor& dlogits) {
  const int64_t N = logits.size(0), V = logits.size(1);
  const float* x = logits.data<float>();
  const int64_t* y = labels.data<int64_t>();
  float* out = dlogits.data<float>();
  const auto exp_shift_sum = cpu::kernels().exp_shift_sum;
  ThreadPool::global().parallel_for(N, kRowsPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* o = out + r * V;
      if (y[r] == ignore_index) {
        std::fill_n(o, V, 0.0f);
        continue;
      }
      // softmax = exp(x - logsumexp(x)), then times g, minus g at the label.
      std::memcpy(o, x + r * V, static_cast<size_t>(V) * sizeof(float));
      exp_shift_sum(o, row_lse[r], V);
      for (int64_t j = 0; j < V; ++j) o[j] *= g;
      o[y[r]] -= g;
    }
  });
}

}  // namespace transformers::ops::cpu_impl
