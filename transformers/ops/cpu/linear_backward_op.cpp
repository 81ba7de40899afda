// The linear's gradients as two GEMMs, and the bias gradient as column sums.
//   dx = dy·w:  the tier's own f32 GEMM where it has one (AVX-512: the forward's tiles, ~1.7x
//               OpenBLAS's AVX2 sgemm per core on Zen 5), as linear(dy, wᵀ) on a transposed copy
//               of w (small: a weight matrix);
//   dw = dyᵀ·x: the same GEMM as linear(dyᵀ, xᵀ) on transposed copies of dy and x (both [M, ·]:
//               the transposes move 4(N + K) bytes a row of M for 2NK flops of it).
// Tiers without an f32 GEMM of their own (AVX2, scalar) call single-threaded OpenBLAS sgemm with
// its transpose flags, on row blocks spread over our thread pool, as the forward's driver does.
#include <cblas.h>

#include <algorithm>
#include <memory>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/cpu/kernels.h"

namespace transformers::ops::cpu_impl {

namespace {
constexpr int64_t kMinTaskRows = 32;
constexpr int64_t kTransposeStripRows = 64;

// dst [cols, rows] = srcᵀ, src [rows, cols] with leading dimension ld: the tier's transpose on
// strips of 64 src rows (whole 8 x 8 blocks) spread over the pool.
void transpose(const cpu::Kernels& tier, const float* src, int64_t rows, int64_t cols, int64_t ld, float* dst,
               ThreadPool& pool) {
  const int64_t strips = (rows + kTransposeStripRows - 1) / kTransposeStripRows;
  pool.parallel_for(strips, 1, [&](int64_t s0, int64_t s1) {
    const int64_t r0 = s0 * kTransposeStripRows, r1 = std::min(rows, s1 * kTransposeStripRows);
    tier.transpose(src + r0 * ld, r1 - r0, cols, ld, dst + r0, rows);
  });
}

void blas_backward(const float* x, const float* w, const float* g, int64_t M, int64_t N, int64_t K, float* dx,
                   float* dw, ThreadPool& pool) {
  cpu::ensure_blas_single_threaded();
  if (dx)  // dx rows [m0, m1) = dy rows [m0, m1) · w
    pool.parallel_for(M, kMinTaskRows, [&](int64_t m0, int64_t m1) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m1 - m0), static_cast<int>(K),
                  static_cast<int>(N), 1.0f, g + m0 * N, static_cast<int>(N), w, static_cast<int>(K), 0.0f,
                  dx + m0 * K, static_cast<int>(K));
    });
  if (dw)  // dw rows [n0, n1) = (dy columns [n0, n1))ᵀ · x
    pool.parallel_for(N, kMinTaskRows, [&](int64_t n0, int64_t n1) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(n1 - n0), static_cast<int>(K),
                  static_cast<int>(M), 1.0f, g + n0, static_cast<int>(N), x, static_cast<int>(K), 0.0f,
                  dw + n0 * K, static_cast<int>(K));
    });
}

void tier_gemm_backward(const cpu::Kernels& tier, const float* x, const float* w, const float* g, int64_t M,
                        int64_t N, int64_t K, float* dx, float* dw, ThreadPool& pool) {
  if (dx) {
    const auto wt = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(K * N));
    transpose(tier, w, N, K, K, wt.get(), pool);
    tier.linear(g, M, N, N, wt.get(), DType::F32, K, nullptr, dx, K, &pool);
  }
  if (dw) {
    const auto gt = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(N * M));
    const auto xt = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(K * M));
    transpose(tier, g, M, N, N, gt.get(), pool);
    transpose(tier, x, M, K, K, xt.get(), pool);
    tier.linear(gt.get(), N, M, M, xt.get(), DType::F32, K, nullptr, dw, K, &pool);
  }
}
}  // namespace

void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor* dw,
                     Tensor* db) {
  const int64_t M = dy.size(0), N = dy.size(1), K = w.defined() ? w.size(1) : x.size(1);
  ThreadPool& pool = ThreadPool::global();
  const float* g = dy.data<float>();
  if (dw && M == 0) std::fill_n(dw->data<float>(), dw->numel(), 0.0f);
  if (M > 0 && (dx || dw)) {
    const cpu::Kernels& tier = cpu::kernels();
    const float* xp = dw ? x.data<float>() : nullptr;
    const float* wp = dx ? w.data<float>() : nullptr;
    float* dxp = dx ? dx->data<float>() : nullptr;
    float* dwp = dw ? dw->data<float>() : nullptr;
    if (tier.weight(DType::F32).gemm)
      tier_gemm_backward(tier, xp, wp, g, M, N, K, dxp, dwp, pool);
    else
      blas_backward(xp, wp, g, M, N, K, dxp, dwp, pool);
  }
  if (db) {
    float* out = db->data<float>();
    std::fill_n(out, N, 0.0f);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) out[n] += g[m * N + n];
  }
}

}  // namespace transformers::ops::cpu_impl
