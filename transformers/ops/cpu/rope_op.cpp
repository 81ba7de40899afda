// CPU rotary embedding and its cos/sin tables (see cpu_ops.h).
#include <cmath>

#include "transformers/ops/cpu/cpu_ops.h"

namespace transformers::ops::cpu_impl {

// out[:R/2]  = x1 * cos[:R/2] - x2 * sin[:R/2]
// out[R/2:R] = x2 * cos[R/2:] + x1 * sin[R/2:]   (x1 = x[:R/2], x2 = x[R/2:R]; rotate_half layout)
void apply_rotary_(Tensor& x, const Tensor& cos, const Tensor& sin) {
  const int64_t B = x.size(0), L = x.size(1), H = x.size(2);
  const int64_t R = cos.size(2), half = R / 2;
  float* base = x.data<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l) {
      const float* c = cos.data<float>() + (b * L + l) * R;
      const float* s = sin.data<float>() + (b * L + l) * R;
      for (int64_t h = 0; h < H; ++h) {
        float* p = base + b * x.stride(0) + l * x.stride(1) + h * x.stride(2);
        for (int64_t i = 0; i < half; ++i) {
          float x1 = p[i], x2 = p[i + half];
          p[i] = x1 * c[i] - x2 * s[i];
          p[i + half] = x2 * c[i + half] + x1 * s[i + half];
        }
      }
    }
}

void rotary_tables(const Tensor& positions, const std::vector<float>& inv_freq, float scaling,
                   Tensor& cos, Tensor& sin) {
  const int64_t B = positions.size(0), L = positions.size(1),
                half = static_cast<int64_t>(inv_freq.size()), R = 2 * half;
  for (int64_t t = 0; t < B * L; ++t) {
    const float p = static_cast<float>(positions.data<int64_t>()[t]);
    float* c = cos.data<float>() + t * R;
    float* s = sin.data<float>() + t * R;
    for (int64_t i = 0; i < half; ++i) {
      const float angle =
          p * inv_freq[static_cast<size_t>(i)];  // a float32 product, as torch's matmul gives
      const float cv = static_cast<float>(std::cos(static_cast<double>(angle))) * scaling;
      const float sv = static_cast<float>(std::sin(static_cast<double>(angle))) * scaling;
      c[i] = c[i + half] = cv;
      s[i] = s[i + half] = sv;
    }
  }
}

}  // namespace transformers::ops::cpu_impl
