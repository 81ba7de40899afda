// The op API of linear: checks, output allocation and the device switch (ops/cpu/linear_op.cpp).
#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/ops.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops {

namespace {

// The checks of linear(x, weight, bias); returns N.
int64_t check_linear(const Tensor& x, const Tensor& weight, const Tensor* bias) {
  TCPP_CHECK(x.dtype() == DType::F32, ShapeError, "linear: input must be float32, got ", x.describe());
  TCPP_CHECK(weight.dim() == 2 && (is_floating(weight.dtype()) || is_block_dtype(weight.dtype())) && weight.is_contiguous(), ShapeError,
             "linear: weight must be a contiguous float or quantized [N, K] matrix, got ", weight.describe());
  const int64_t K = weight.size(1), N = weight.size(0);
  TCPP_CHECK(x.size(-1) == K, ShapeError, "linear: input ", x.describe(), " does not match weight ",
             weight.describe());
  if (bias)
    TCPP_CHECK(bias->dtype() == DType::F32 && bias->numel() == N, ShapeError, "linear: bias ",
               bias->describe(), " for weight ", weight.describe());
  checks::require_one_device("linear", {&x, &weight, bias});
  return N;
}

Tensor output_for(const Tensor& x, int64_t N) {
  Shape out_shape = x.shape();
  out_shape.back() = N;
  return Tensor::empty(out_shape, DType::F32, x.device());
}

}  // namespace

namespace {
thread_local const std::function<void(const Tensor&, const Tensor&)>* linear_observer = nullptr;
}  // namespace

LinearInputObserver::LinearInputObserver(std::function<void(const Tensor& x, const Tensor& weight)> observe)
    : observe_(std::move(observe)) {
  TCPP_CHECK(!linear_observer, ValueError, "LinearInputObserver: another observer is active on this thread");
  linear_observer = &observe_;
}

LinearInputObserver::~LinearInputObserver() { linear_observer = nullptr; }

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias) {
  if (autograd::recording({&x, &weight, bias})) [[unlikely]] return recorded::linear(x, weight, bias);
  const int64_t N = check_linear(x, weight, bias);
  Tensor xc = x.contiguous();
  if (linear_observer) [[unlikely]] (*linear_observer)(xc, weight);
  Tensor y = output_for(x, N);
  on_device("linear", x.device(), [&] { cpu_impl::linear(xc, weight, bias, y); });
  return y;
}

std::vector<Tensor> linear_group(const Tensor& x, const std::vector<LinearWeights>& parts) {
  bool recorded = autograd::recording({&x});
  for (const LinearWeights& p : parts) recorded = recorded || autograd::recording({p.weight, p.bias});
  std::vector<Tensor> ys;
  ys.reserve(parts.size());
  if (recorded) [[unlikely]] {
    for (const LinearWeights& p : parts) ys.push_back(linear(x, *p.weight, p.bias));
    return ys;
  }
  for (const LinearWeights& p : parts) ys.push_back(output_for(x, check_linear(x, *p.weight, p.bias)));
  Tensor xc = x.contiguous();
  if (linear_observer) [[unlikely]]
    for (const LinearWeights& p : parts) (*linear_observer)(xc, *p.weight);
  on_device("linear", x.device(), [&] { cpu_impl::linear_group(xc, parts, ys); });
  return ys;
}

}  // namespace transformers::ops
