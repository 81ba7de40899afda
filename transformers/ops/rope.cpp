// The op API of rotary embeddings: checks, output allocation and the device switch
// (ops/cpu/rope_op.cpp).
#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/ops.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops {

void apply_rotary_(Tensor& x, const Tensor& cos, const Tensor& sin) {
  if (autograd::recording({&x, &cos, &sin})) [[unlikely]] return recorded::apply_rotary_(x, cos, sin);
  TCPP_CHECK(x.dtype() == DType::F32 && x.dim() == 4 && x.stride(3) == 1, ShapeError,
             "apply_rotary_: expected f32 [B, L, H, D] with contiguous D, got ", x.describe());
  TCPP_CHECK(x.storage()->writable(), ValueError, "apply_rotary_: tensor is read-only");
  const int64_t B = x.size(0), L = x.size(1), D = x.size(3);
  TCPP_CHECK(cos.dtype() == DType::F32 && cos.is_contiguous() && cos.dim() == 3 &&
                 cos.size(0) == B && cos.size(1) == L && cos.shape() == sin.shape() &&
                 sin.is_contiguous() && cos.size(2) <= D && cos.size(2) % 2 == 0,
             ShapeError, "apply_rotary_: cos/sin ", cos.describe(), " do not fit ", x.describe());
  checks::require_one_device("apply_rotary_", {&x, &cos, &sin});
  on_device("apply_rotary_", x.device(), [&] { cpu_impl::apply_rotary_(x, cos, sin); });
}

std::pair<Tensor, Tensor> rotary_tables(const Tensor& positions, const std::vector<float>& inv_freq,
                                        float scaling) {
  TCPP_CHECK(positions.dtype() == DType::I64 && positions.dim() == 2, ShapeError,
             "rotary_tables: positions must be int64 [B, L], got ", positions.describe());
  checks::require_one_device("rotary_tables", {&positions});
  Tensor pos = positions.contiguous();
  const Shape shape{pos.size(0), pos.size(1), 2 * static_cast<int64_t>(inv_freq.size())};
  Tensor cos = Tensor::empty(shape, DType::F32, pos.device()),
         sin = Tensor::empty(shape, DType::F32, pos.device());
  on_device("rotary_tables", pos.device(),
            [&] { cpu_impl::rotary_tables(pos, inv_freq, scaling, cos, sin); });
  return {cos, sin};
}

}  // namespace transformers::ops
