// The op API of linear: checks, output allocation and the device switch (ops/cpu/linear_op.cpp).
#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/ops.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias) {
  if (autograd::recording({&x, &weight, bias})) [[unlikely]] return recorded::linear(x, weight, bias);
  TCPP_CHECK(x.dtype() == DType::F32, ShapeError, "linear: input must be float32, got ",
             x.describe());
  TCPP_CHECK(weight.dim() == 2 && (is_floating(weight.dtype()) || is_block_dtype(weight.dtype())) && weight.is_contiguous(), ShapeError,
             "linear: weight must be a contiguous float or quantized [N, K] matrix, got ", weight.describe());
  const int64_t K = weight.size(1), N = weight.size(0);
  TCPP_CHECK(x.size(-1) == K, ShapeError, "linear: input ", x.describe(), " does not match weight ",
             weight.describe());
  if (bias)
    TCPP_CHECK(bias->dtype() == DType::F32 && bias->numel() == N, ShapeError, "linear: bias ",
               bias->describe(), " for weight ", weight.describe());
  checks::require_one_device("linear", {&x, &weight, bias});
  Tensor xc = x.contiguous();
  Shape out_shape = x.shape();
  out_shape.back() = N;
  Tensor y = Tensor::empty(out_shape, DType::F32, x.device());
  on_device("linear", x.device(), [&] { cpu_impl::linear(xc, weight, bias, y); });
  return y;
}

}  // namespace transformers::ops
