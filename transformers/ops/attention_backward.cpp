// Backward of rope and attention. Rope is a rotation per pair, so its backward is the same
// kernel with sin negated (cos/sin halves are duplicated, rotate_half layout). Attention
// recomputes its probabilities from the saved q, k, v (ops/cpu/attention_backward_op.cpp).
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops::recorded {

void apply_rotary_(Tensor& x, const Tensor& cos, const Tensor& sin) {
  refuse("apply_rotary_ (cos/sin)", {&cos, &sin});
  auto inputs = std::vector{x.autograd()};
  {
    autograd::NoGrad off;
    ops::apply_rotary_(x, cos, sin);
  }
  const Tensor c = cos.detach(), s = sin.detach();
  autograd::record(x, "apply_rotary_", std::move(inputs), [c, s](const Tensor& g) {
    Tensor dx = g.contiguous().clone();
    Tensor minus_sin = s.clone();
    ops::scale_(minus_sin, -1.0f);
    ops::apply_rotary_(dx, c, minus_sin);
    return std::vector<Tensor>{dx};
  });
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& params) {
  Tensor y;
  {
    autograd::NoGrad off;
    y = ops::attention(q, k, v, params);
  }
  const Tensor qs = q.detach(), ks = k.detach(), vs = v.detach();
  const Tensor mask = params.key_padding_mask ? params.key_padding_mask->detach() : Tensor{};
  autograd::record(
      y, "attention", {q.autograd(), k.autograd(), v.autograd()}, [=](const Tensor& g) {
        AttentionParams p = params;
        p.key_padding_mask = mask.defined() ? &mask : nullptr;
        Tensor dq = Tensor::empty(qs.shape(), DType::F32, g.device());
        Tensor dk = Tensor::empty(ks.shape(), DType::F32, g.device());
        Tensor dv = Tensor::empty(vs.shape(), DType::F32, g.device());
        const Tensor gc = g.contiguous();
        on_device("attention backward", g.device(),
                  [&] { cpu_impl::attention_backward(qs, ks, vs, p, gc, dq, dk, dv); });
        return std::vector<Tensor>{dq, dk, dv};
      });
  return y;
}

}  // namespace transformers::ops::recorded
