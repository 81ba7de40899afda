// The CPU kernel table: raw-pointer kernels below the ops/ boundary. Each kernel has a scalar
// reference (reference.cpp) and a vector path (*_avx2.cpp) chosen at run time from cpuid; tests
// compare the two on random data. Set TRANSFORMERS_FORCE_SCALAR=1 to run on the references.
#pragma once

#include <cstdint>

#include "transformers/core/dtype.h"
#include "transformers/core/thread_pool.h"

namespace transformers::cpu {

struct Kernels {
  const char* name;

  // y[m, n] = sum_k x[m, k] * w[n, k] (+ bias[n]); x, y f32 with leading dimensions ldx, ldy;
  // w is a row-major [N, K] matrix of dtype wdt (F32, BF16 or F16) with leading dimension K.
  // Runs on `pool` (nullptr: the calling thread only).
  void (*linear)(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, DType wdt, int64_t N,
                 const float* bias, float* y, int64_t ldy, ThreadPool* pool);

  // Reductions and elementwise maps over n contiguous floats.
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float alpha, const float* x, float* y, int64_t n);  // y += alpha * x
  void (*add)(const float* a, const float* b, float* out, int64_t n);
  void (*mul)(const float* a, const float* b, float* out, int64_t n);
  void (*scale)(const float* a, float s, float* out, int64_t n);

  // out = x / sqrt(mean(x^2) + eps) * (unit_offset ? 1 + w : w), one row of n.
  void (*rms_norm_row)(const float* x, const float* w, float eps, bool unit_offset, float* out, int64_t n);
  // out = (x - mean) / sqrt(var + eps) * w + b (w, b may be null), one row of n.
  void (*layer_norm_row)(const float* x, const float* w, const float* b, float eps, float* out, int64_t n);
  // In-place softmax of one row of n (max-subtracted, f32).
  void (*softmax_row)(float* x, int64_t n);

  // Activations, in place on n floats; and the gated forms out = act(gate) * up.
  void (*silu)(float* x, int64_t n);
  void (*gelu)(float* x, int64_t n);       // exact (erf)
  void (*gelu_tanh)(float* x, int64_t n);  // tanh approximation (gelu_new, gelu_pytorch_tanh)
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n);
  void (*gelu_tanh_mul)(const float* gate, const float* up, float* out, int64_t n);

  // Converts n elements of dtype src_dt (F32, BF16, F16) to f32, and back.
  void (*to_f32)(const void* src, DType src_dt, float* dst, int64_t n);
  void (*from_f32)(const float* src, void* dst, DType dst_dt, int64_t n);

  // Tiles of blocked attention (small matrices in L1/L2, any row strides):
  // out[i * ldo + j] = dot(a + i * lda, b + j * ldb, n) for i < rows_a, j < rows_b (S = Q Kᵀ).
  void (*dot_tile)(const float* a, int64_t lda, int64_t rows_a, const float* b, int64_t ldb, int64_t rows_b,
                   int64_t n, float* out, int64_t ldo);
  // y[i * ldy + d] += sum_j p[i * ldp + j] * v[j * ldv + d] for i < rows, j < cols, d < n (O += P V).
  void (*matmul_acc_tile)(const float* p, int64_t ldp, int64_t rows, int64_t cols, const float* v, int64_t ldv,
                          float* y, int64_t ldy, int64_t n);
  // x[i] = exp(x[i] - shift) for n floats (exp(-inf) = 0); returns the sum of the results.
  float (*exp_shift_sum)(float* x, float shift, int64_t n);
};

const Kernels& reference_kernels();
// nullptr when the CPU lacks AVX2, FMA or F16C.
const Kernels* avx2_kernels();
// The table ops/ uses: AVX2 when available and not disabled by TRANSFORMERS_FORCE_SCALAR.
const Kernels& kernels();

}  // namespace transformers::cpu
