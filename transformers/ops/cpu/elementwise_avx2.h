// Declarations of the AVX2 kernels (defined in *_avx2.cpp files, assembled in kernels_avx2.cpp).
#pragma once

#include "transformers/ops/cpu/kernels.h"

namespace transformers::cpu::avx2 {
float dot(const float* a, const float* b, int64_t n);
void axpy(float alpha, const float* x, float* y, int64_t n);
void add(const float* a, const float* b, float* out, int64_t n);
void mul(const float* a, const float* b, float* out, int64_t n);
void scale(const float* a, float s, float* out, int64_t n);
void rms_norm_row(const float* x, const float* w, float eps, bool unit_offset, float* out, int64_t n);
void layer_norm_row(const float* x, const float* w, const float* b, float eps, float* out, int64_t n);
void softmax_row(float* x, int64_t n);
void silu(float* x, int64_t n);
void gelu(float* x, int64_t n);
void gelu_tanh(float* x, int64_t n);
void silu_mul(const float* g, const float* u, float* out, int64_t n);
void gelu_tanh_mul(const float* g, const float* u, float* out, int64_t n);
void to_f32(const void* src, DType dt, float* dst, int64_t n);
void from_f32(const float* src, void* dst, DType dt, int64_t n);
void dot_tile(const float* a, int64_t lda, int64_t rows_a, const float* b, int64_t ldb, int64_t rows_b, int64_t n,
              float* out, int64_t ldo);
void matmul_acc_tile(const float* p, int64_t ldp, int64_t rows, int64_t cols, const float* v, int64_t ldv, float* y,
                     int64_t ldy, int64_t n);
float exp_shift_sum(float* x, float shift, int64_t n);
void linear(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, DType wdt, int64_t N, const float* bias,
            float* y, int64_t ldy, ThreadPool* pool);
}  // namespace transformers::cpu::avx2
