// The linear's gradients as two general GEMMs (single-threaded OpenBLAS on row blocks spread over
// our thread pool, as the forward's driver does), and the bias gradient as column sums.
#include <cblas.h>

#include <algorithm>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/cpu/kernels.h"

namespace transformers::ops::cpu_impl {

namespace {
constexpr int64_t kMinTaskRows = 32;
}

void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor* dw,
                     Tensor* db) {
  const int64_t M = dy.size(0), N = dy.size(1), K = w.defined() ? w.size(1) : x.size(1);
  cpu::ensure_blas_single_threaded();
  ThreadPool& pool = ThreadPool::global();
  const float* g = dy.data<float>();
  if (dx && M > 0) {
    // dx rows [m0, m1) = dy rows [m0, m1) · w
    const float* wp = w.data<float>();
    float* out = dx->data<float>();
    pool.parallel_for(M, kMinTaskRows, [&](int64_t m0, int64_t m1) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m1 - m0),
                  static_cast<int>(K), static_cast<int>(N), 1.0f, g + m0 * N, static_cast<int>(N),
                  wp, static_cast<int>(K), 0.0f, out + m0 * K, static_cast<int>(K));
    });
  }
  if (dw) {
    float* out = dw->data<float>();
    if (M == 0) std::fill_n(out, dw->numel(), 0.0f);
    const float* xp = M > 0 ? x.data<float>() : nullptr;
    // dw rows [n0, n1) = (dy columns [n0, n1))ᵀ · x
    if (M > 0)
      pool.parallel_for(N, kMinTaskRows, [&](int64_t n0, int64_t n1) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(n1 - n0),
                    static_cast<int>(K), static_cast<int>(M), 1.0f, g + n0, static_cast<int>(N), xp,
                    static_cast<int>(K), 0.0f, out + n0 * K, static_cast<int>(K));
      });
  }
  if (db) {
    float* out = db->data<float>();
    std::fill_n(out, N, 0.0f);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) out[n] += g[m * N + n];
  }
}

}  // namespace transformers::ops::cpu_impl
