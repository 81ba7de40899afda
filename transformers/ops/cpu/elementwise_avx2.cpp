// AVX2 kernels for the vector maps and row reductions of the kernel table.
#include <cmath>

#include "transformers/core/half.h"
#include "transformers/ops/cpu/elementwise_avx2.h"
#include "transformers/ops/cpu/vec_avx2.h"

namespace transformers::cpu::avx2 {

float dot(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  __m256 va = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += alpha * x[i];
}

void add(const float* a, const float* b, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) out[i] = a[i] + b[i];
}

void mul(const float* a, const float* b, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) out[i] = a[i] * b[i];
}

void scale(const float* a, float s, float* out, int64_t n) {
  __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), vs));
  for (; i < n; ++i) out[i] = a[i] * s;
}

void rms_norm_row(const float* x, const float* w, float eps, bool unit_offset, float* out, int64_t n) {
  float ss = dot(x, x, n);
  float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  __m256 vinv = _mm256_set1_ps(inv);
  __m256 one = _mm256_set1_ps(unit_offset ? 1.0f : 0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 wv = _mm256_add_ps(_mm256_loadu_ps(w + i), one);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv), wv));
  }
  for (; i < n; ++i) out[i] = x[i] * inv * (unit_offset ? 1.0f + w[i] : w[i]);
}

void layer_norm_row(const float* x, const float* w, const float* b, float eps, float* out, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + i));
  float sum = hsum(acc);
  for (; i < n; ++i) sum += x[i];
  float mean = sum / static_cast<float>(n);
  __m256 vmean = _mm256_set1_ps(mean);
  acc = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vmean);
    acc = _mm256_fmadd_ps(d, d, acc);
  }
  float var = hsum(acc);
  for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  float inv = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
  for (i = 0; i < n; ++i) {
    float v = (x[i] - mean) * inv;
    if (w) v *= w[i];
    if (b) v += b[i];
    out[i] = v;
  }
}

void softmax_row(float* x, int64_t n) {
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  float mx = hmax(vmax);
  for (; i < n; ++i) mx = std::max(mx, x[i]);
  if (mx == -INFINITY) {
    for (i = 0; i < n; ++i) x[i] = 0.f;
    return;
  }
  __m256 vm = _mm256_set1_ps(mx), vsum = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = hsum(vsum);
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  scale(x, 1.0f / sum, x, n);
}

namespace {
float silu1(float v) { return v / (1.0f + std::exp(-v)); }
float gelu_tanh1(float v) {
  const float c = 0.7978845608028654f;
  return 0.5f * v * (1.0f + std::tanh(c * (v + 0.044715f * v * v * v)));
}
// gelu_tanh(x) = x * sigmoid(2 * sqrt(2/pi) * (x + 0.044715 x^3)).
inline __m256 gelu_tanh8(__m256 v) {
  const __m256 c2 = _mm256_set1_ps(2.0f * 0.7978845608028654f);
  __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), _mm256_mul_ps(v, v)), v, v);
  return _mm256_mul_ps(v, sigmoid8(_mm256_mul_ps(c2, inner)));
}
}  // namespace

void silu(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(x + i, _mm256_mul_ps(v, sigmoid8(v)));
  }
  for (; i < n; ++i) x[i] = silu1(x[i]);
}

void gelu(float* x, int64_t n) {
  // erf has no cheap vector form here; exact GELU is used by encoders only (BERT), off the hot path.
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

void gelu_tanh(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu_tanh8(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) x[i] = gelu_tanh1(x[i]);
}

void silu_mul(const float* g, const float* u, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(g + i);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(v, sigmoid8(v)), _mm256_loadu_ps(u + i)));
  }
  for (; i < n; ++i) out[i] = silu1(g[i]) * u[i];
}

void gelu_tanh_mul(const float* g, const float* u, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_mul_ps(gelu_tanh8(_mm256_loadu_ps(g + i)), _mm256_loadu_ps(u + i)));
  for (; i < n; ++i) out[i] = gelu_tanh1(g[i]) * u[i];
}

void to_f32(const void* src, DType dt, float* dst, int64_t n) {
  int64_t i = 0;
  switch (dt) {
    case DType::F32:
      for (; i < n; ++i) dst[i] = static_cast<const float*>(src)[i];
      return;
    case DType::BF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16(s + i));
      for (; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::F16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16(s + i));
      for (; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return;
    }
    default: return;
  }
}

void from_f32(const float* src, void* dst, DType dt, int64_t n) {
  int64_t i = 0;
  switch (dt) {
    case DType::F32:
      for (; i < n; ++i) static_cast<float*>(dst)[i] = src[i];
      return;
    case DType::BF16:
      // Round-to-nearest-even with NaN handling is subtle; the scalar form is exact and this
      // conversion runs once per weight at load, not per token.
      for (; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(src[i]);
      return;
    case DType::F16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
      for (; i < n; ++i) d[i] = f32_to_f16(src[i]);
      return;
    }
    default: return;
  }
}

}  // namespace transformers::cpu::avx2
