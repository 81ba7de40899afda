#include "transformers/ops/ops.h"

namespace transformers::ops {

// out[:R/2]  = x1 * cos[:R/2] - x2 * sin[:R/2]
// out[R/2:R] = x2 * cos[R/2:] + x1 * sin[R/2:]   (x1 = x[:R/2], x2 = x[R/2:R]; rotate_half layout)
void apply_rotary_(Tensor& x, const Tensor& cos, const Tensor& sin) {
  TCPP_CHECK(x.dtype() == DType::F32 && x.dim() == 4 && x.stride(3) == 1, ShapeError,
             "apply_rotary_: expected f32 [B, L, H, D] with contiguous D, got ", x.describe());
  TCPP_CHECK(x.storage()->writable(), ValueError, "apply_rotary_: tensor is read-only");
  const int64_t B = x.size(0), L = x.size(1), H = x.size(2), D = x.size(3);
  TCPP_CHECK(cos.dtype() == DType::F32 && cos.is_contiguous() && cos.dim() == 3 && cos.size(0) == B && cos.size(1) == L &&
                 cos.shape() == sin.shape() && sin.is_contiguous() && cos.size(2) <= D && cos.size(2) % 2 == 0,
             ShapeError, "apply_rotary_: cos/sin ", cos.describe(), " do not fit ", x.describe());
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

}  // namespace transformers::ops
