// linear's backward: dX = dY·W and dW = dYᵀ·X as general GEMMs, db = Σ dY
// (ops/cpu/linear_backward_op.cpp). A bf16/f16 weight is widened to f32 for the input gradient (a
// temporary of the backward).
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops::recorded {

Tensor bf16_values(const Tensor& t) { return ops::cast(ops::cast(t, DType::BF16), DType::F32); }

namespace {

// torch.autocast(cpu, bfloat16)'s linear: x, W and b cast to bf16, one GEMM accumulating in f32,
// the output bf16. Its backward runs in bf16 too: the incoming gradient is rounded to bf16, and
// dX = dY·W, dW = dYᵀ·X, db = Σ dY are each accumulated in f32 and rounded to bf16 (autocast's
// cast back to the f32 master weight adds them into f32 gradients). Values stay in f32 tensors.
Tensor autocast_linear(const Tensor& x, const Tensor& weight, const Tensor* bias) {
  Tensor xb, wb, bb, y;
  {
    autograd::NoGrad off;
    xb = bf16_values(x);
    wb = bf16_values(weight);
    if (bias) bb = bf16_values(*bias);
    y = bf16_values(ops::linear(xb, wb, bias ? &bb : nullptr));
  }
  const bool want_x = x.autograd() != nullptr, want_w = weight.autograd() != nullptr;
  const bool want_b = bias && bias->autograd();
  const Shape x_shape = x.shape();
  const int64_t N = weight.size(0), K = weight.size(1);
  autograd::record(y, "linear (bf16 autocast)", {autograd::meta_of(&x), weight.autograd(), autograd::meta_of(bias)},
                   [=](const Tensor& g) {
                     const int64_t M = g.numel() / N;
                     const Tensor g2 = bf16_values(g.contiguous().view({M, N}));
                     Tensor dx, dw, db;
                     if (want_x) dx = Tensor::empty({M, K}, DType::F32, g.device());
                     if (want_w) dw = Tensor::empty({N, K}, DType::F32, g.device());
                     if (want_b) db = Tensor::empty({N}, DType::F32, g.device());
                     on_device("linear backward", g.device(), [&] {
                       cpu_impl::linear_backward(want_w ? xb.contiguous().view({M, K}) : Tensor{}, wb, g2,
                                                 want_x ? &dx : nullptr, want_w ? &dw : nullptr,
                                                 want_b ? &db : nullptr);
                     });
                     return std::vector<Tensor>{want_x ? bf16_values(dx).view(x_shape) : Tensor{},
                                                want_w ? bf16_values(dw) : Tensor{}, want_b ? bf16_values(db) : Tensor{}};
                   });
  autograd::mark_bf16(y);
  return y;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias) {
  // Quantized weights (QLoRA's frozen base) have no bf16 rounding to emulate: they run as stored.
  if (autograd::autocast_bf16() && is_floating(weight.dtype())) return autocast_linear(x, weight, bias);
  Tensor y;
  {
    autograd::NoGrad off;
    y = ops::linear(x, weight, bias);
  }
  const bool want_x = x.autograd() != nullptr, want_w = weight.autograd() != nullptr;
  const bool want_b = bias && bias->autograd();
  const Tensor xs = want_w ? x.detach() : Tensor{}, ws = want_x ? weight.detach() : Tensor{};
  const Shape x_shape = x.shape();
  const int64_t N = weight.size(0), K = weight.size(1);
  autograd::record(y, "linear", {autograd::meta_of(&x), weight.autograd(), autograd::meta_of(bias)},
                   [=](const Tensor& g) {
                     const int64_t M = g.numel() / N;
                     const Tensor g2 = g.contiguous().view({M, N});
                     Tensor dx, dw, db;
                     const Tensor x2 = want_w ? xs.contiguous().view({M, K}) : Tensor{};
                     const Tensor w32 =
                         want_x ? (ws.dtype() == DType::F32 ? ws : ops::cast(ws, DType::F32))
                                : Tensor{};
                     if (want_x) dx = Tensor::empty({M, K}, DType::F32, g.device());
                     if (want_w) dw = Tensor::empty({N, K}, DType::F32, g.device());
                     if (want_b) db = Tensor::empty({N}, DType::F32, g.device());
                     on_device("linear backward", g.device(), [&] {
                       cpu_impl::linear_backward(x2, w32, g2, want_x ? &dx : nullptr,
                                                 want_w ? &dw : nullptr, want_b ? &db : nullptr);
                     });
                     return std::vector<Tensor>{want_x ? dx.view(x_shape) : Tensor{}, dw, db};
                   });
  return y;
}

}  // namespace transformers::ops::recorded
