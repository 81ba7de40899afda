#include "transformers/core/thread_pool.h"
#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/ops.h"

namespace transformers::ops {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias) {
  TCPP_CHECK(x.dtype() == DType::F32, ShapeError, "linear: input must be float32, got ", x.describe());
  TCPP_CHECK(weight.dim() == 2 && is_floating(weight.dtype()) && weight.is_contiguous(), ShapeError,
             "linear: weight must be a contiguous float [N, K] matrix, got ", weight.describe());
  const int64_t K = weight.size(1), N = weight.size(0);
  TCPP_CHECK(x.size(-1) == K, ShapeError, "linear: input ", x.describe(), " does not match weight ", weight.describe());
  if (bias)
    TCPP_CHECK(bias->dtype() == DType::F32 && bias->numel() == N, ShapeError, "linear: bias ", bias->describe(),
               " for weight ", weight.describe());
  checks::require_one_device("linear", {&x, &weight, bias});
  Tensor xc = x.contiguous();
  const int64_t M = x.numel() / K;
  Shape out_shape = x.shape();
  out_shape.back() = N;
  Tensor y = Tensor::empty(out_shape, DType::F32);
  cpu::kernels().linear(xc.data<float>(), M, K, K, weight.raw_data(), weight.dtype(), N,
                        bias ? bias->data<float>() : nullptr, y.data<float>(), N, &ThreadPool::global());
  return y;
}

}  // namespace transformers::ops
