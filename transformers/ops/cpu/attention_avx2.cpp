// AVX2 tiles of blocked attention (ops/attention.cpp): S = Q Kᵀ as register-blocked dot
// products (2 query rows x 4 keys share every load), O += P V as 4 rows x 16 value columns of
// accumulators, and the exp of a score row. Rows are read in place with any stride, so K and V
// are used straight from the cache tensors without packing.
#include <cmath>

#include "transformers/ops/cpu/elementwise_avx2.h"
#include "transformers/ops/cpu/vec_avx2.h"

namespace transformers::cpu::avx2 {
namespace {

// The four horizontal sums of a0..a3 as one 4-float vector.
inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

// out[i][j] for RI rows of a and RJ rows of b.
template <int RI, int RJ>
void dot_block(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t n, float* out, int64_t ldo) {
  __m256 acc[RI][RJ];
  for (int i = 0; i < RI; ++i)
    for (int j = 0; j < RJ; ++j) acc[i][j] = _mm256_setzero_ps();
  const int64_t n8 = n / 8 * 8;
  for (int64_t d = 0; d < n8; d += 8) {
    __m256 bv[RJ];
    for (int j = 0; j < RJ; ++j) bv[j] = _mm256_loadu_ps(b + j * ldb + d);
    for (int i = 0; i < RI; ++i) {
      __m256 av = _mm256_loadu_ps(a + i * lda + d);
      for (int j = 0; j < RJ; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < RI; ++i) {
    float s[RJ];
    if constexpr (RJ == 4) {
      _mm_storeu_ps(s, hsum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
    } else {
      for (int j = 0; j < RJ; ++j) s[j] = hsum(acc[i][j]);
    }
    for (int j = 0; j < RJ; ++j) {
      for (int64_t d = n8; d < n; ++d) s[j] += a[i * lda + d] * b[j * ldb + d];
      out[i * ldo + j] = s[j];
    }
  }
}

template <int RI>
void dot_rows(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t rows_b, int64_t n, float* out,
              int64_t ldo) {
  int64_t j = 0;
  for (; j + 4 <= rows_b; j += 4) dot_block<RI, 4>(a, lda, b + j * ldb, ldb, n, out + j, ldo);
  switch (rows_b - j) {
    case 3: dot_block<RI, 3>(a, lda, b + j * ldb, ldb, n, out + j, ldo); break;
    case 2: dot_block<RI, 2>(a, lda, b + j * ldb, ldb, n, out + j, ldo); break;
    case 1: dot_block<RI, 1>(a, lda, b + j * ldb, ldb, n, out + j, ldo); break;
    default: break;
  }
}

// y[RI rows][d0 .. d0 + 8 * V) += p[RI rows][0 .. cols) · v[0 .. cols)[d0 ..].
template <int RI, int V>
void acc_block(const float* p, int64_t ldp, int64_t cols, const float* v, int64_t ldv, float* y, int64_t ldy) {
  __m256 acc[RI][V];
  for (int i = 0; i < RI; ++i)
    for (int u = 0; u < V; ++u) acc[i][u] = _mm256_loadu_ps(y + i * ldy + 8 * u);
  for (int64_t j = 0; j < cols; ++j) {
    __m256 vv[V];
    for (int u = 0; u < V; ++u) vv[u] = _mm256_loadu_ps(v + j * ldv + 8 * u);
    for (int i = 0; i < RI; ++i) {
      __m256 pb = _mm256_broadcast_ss(p + i * ldp + j);
      for (int u = 0; u < V; ++u) acc[i][u] = _mm256_fmadd_ps(pb, vv[u], acc[i][u]);
    }
  }
  for (int i = 0; i < RI; ++i)
    for (int u = 0; u < V; ++u) _mm256_storeu_ps(y + i * ldy + 8 * u, acc[i][u]);
}

template <int RI>
void acc_rows(const float* p, int64_t ldp, int64_t cols, const float* v, int64_t ldv, float* y, int64_t ldy,
              int64_t n) {
  int64_t d = 0;
  for (; d + 16 <= n; d += 16) acc_block<RI, 2>(p, ldp, cols, v + d, ldv, y + d, ldy);
  for (; d + 8 <= n; d += 8) acc_block<RI, 1>(p, ldp, cols, v + d, ldv, y + d, ldy);
  for (; d < n; ++d)
    for (int i = 0; i < RI; ++i) {
      float s = y[i * ldy + d];
      for (int64_t j = 0; j < cols; ++j) s += p[i * ldp + j] * v[j * ldv + d];
      y[i * ldy + d] = s;
    }
}

}  // namespace

void dot_tile(const float* a, int64_t lda, int64_t rows_a, const float* b, int64_t ldb, int64_t rows_b, int64_t n,
              float* out, int64_t ldo) {
  int64_t i = 0;
  for (; i + 2 <= rows_a; i += 2) dot_rows<2>(a + i * lda, lda, b, ldb, rows_b, n, out + i * ldo, ldo);
  if (i < rows_a) dot_rows<1>(a + i * lda, lda, b, ldb, rows_b, n, out + i * ldo, ldo);
}

void matmul_acc_tile(const float* p, int64_t ldp, int64_t rows, int64_t cols, const float* v, int64_t ldv, float* y,
                     int64_t ldy, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) acc_rows<4>(p + i * ldp, ldp, cols, v, ldv, y + i * ldy, ldy, n);
  switch (rows - i) {
    case 3: acc_rows<3>(p + i * ldp, ldp, cols, v, ldv, y + i * ldy, ldy, n); break;
    case 2: acc_rows<2>(p + i * ldp, ldp, cols, v, ldv, y + i * ldy, ldy, n); break;
    case 1: acc_rows<1>(p + i * ldp, ldp, cols, v, ldv, y + i * ldy, ldy, n); break;
    default: break;
  }
}

float exp_shift_sum(float* x, float shift, int64_t n) {
  const __m256 vs = _mm256_set1_ps(shift);
  __m256 vsum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
    _mm256_storeu_ps(x + i, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = hsum(vsum);
  for (; i < n; ++i) sum += (x[i] = std::exp(x[i] - shift));
  return sum;
}

}  // namespace transformers::cpu::avx2
