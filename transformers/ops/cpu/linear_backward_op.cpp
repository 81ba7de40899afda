// The linear's gradients as two general GEMMs (OpenBLAS), and the bias gradient as column sums.
#include <cblas.h>

#include <algorithm>

#include "transformers/ops/cpu/cpu_backward.h"

namespace transformers::ops::cpu_impl {

void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor* dw,
                     Tensor* db) {
  const int M = static_cast<int>(dy.size(0)), N = static_cast<int>(dy.size(1)),
            K = static_cast<int>(w.size(1));
  if (dx && M > 0) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dy.data<float>(), N,
                w.data<float>(), K, 0.0f, dx->data<float>(), K);
  }
  if (dw) {
    if (M == 0)
      std::fill_n(dw->data<float>(), dw->numel(), 0.0f);
    else
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, dy.data<float>(), N,
                  x.data<float>(), K, 0.0f, dw->data<float>(), K);
  }
  if (db) {
    float* out = db->data<float>();
    std::fill_n(out, N, 0.0f);
    const float* g = dy.data<float>();
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) out[n] += g[static_cast<int64_t>(m) * N + n];
  }
}

}  // namespace transformers::ops::cpu_impl
