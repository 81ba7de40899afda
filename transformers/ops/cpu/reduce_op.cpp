// CPU reductions over the last dimension: argmax and top-k (see cpu_ops.h).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "transformers/ops/cpu/cpu_ops.h"

namespace transformers::ops::cpu_impl {

void argmax(const Tensor& x, Tensor& out) {
  const int64_t n = x.size(-1), rows = x.numel() / n;
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = x.data<float>() + r * n;
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
      if (p[i] > p[best] || (std::isnan(p[i]) && !std::isnan(p[best]))) best = i;
    out.data<int64_t>()[r] = best;
  }
}

void topk(const Tensor& x, int64_t k, Tensor& values, Tensor& indices) {
  const int64_t n = x.size(-1), rows = x.numel() / n;
  std::vector<int64_t> idx(n);
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = x.data<float>() + r * n;
    std::iota(idx.begin(), idx.end(), 0);
    // Larger value first; equal values keep the lower index first (stable, like torch on CPU).
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [p](int64_t a, int64_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    for (int64_t j = 0; j < k; ++j) {
      values.data<float>()[r * k + j] = p[idx[j]];
      indices.data<int64_t>()[r * k + j] = idx[j];
    }
  }
}

}  // namespace transformers::ops::cpu_impl
