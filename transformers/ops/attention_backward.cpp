// Backward of rope and attention. Rope is a rotation per pair, so its backward is the same
// kernel with sin negated (cos/sin halves are duplicated, rotate_half layout). Attention
// recomputes its probabilities from the saved q, k, v (ops/cpu/attention_backward_op.cpp). Under
// bf16 autocast both round where torch's bf16 ops round (ops/cpu/attention_bf16_op.cpp).
#include <functional>

#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops::recorded {

void apply_rotary_(Tensor& x, const Tensor& cos, const Tensor& sin) {
  refuse("apply_rotary_ (cos/sin)", {&cos, &sin});
  // Under bf16 autocast a bf16 x (a projection's output) times the f32 cos/sin gives f32, so the
  // forward is unchanged; torch's backward rounds each product's gradient to x's dtype and adds
  // the two in bf16: dx = r(r(g·cos) + r(rotate_halfᵀ(g·sin))).
  const bool bf16_input = autograd::holds_bf16(x);
  auto inputs = std::vector{x.autograd()};
  {
    autograd::NoGrad off;
    ops::apply_rotary_(x, cos, sin);
  }
  const Tensor c = cos.detach(), s = sin.detach();
  autograd::record(x, "apply_rotary_", std::move(inputs), [c, s, bf16_input](const Tensor& g) {
    Tensor minus_sin = s.clone();
    ops::scale_(minus_sin, -1.0f);
    if (bf16_input) {
      Tensor through_cos = g.contiguous().clone(), through_sin = g.contiguous().clone();
      ops::apply_rotary_(through_cos, c, Tensor::zeros(s.shape(), DType::F32, s.device()));
      ops::apply_rotary_(through_sin, Tensor::zeros(c.shape(), DType::F32, c.device()), minus_sin);
      return std::vector<Tensor>{bf16_values(ops::add(bf16_values(through_cos), bf16_values(through_sin)))};
    }
    Tensor dx = g.contiguous().clone();
    ops::apply_rotary_(dx, c, minus_sin);
    return std::vector<Tensor>{dx};
  });
}

namespace {

// The CPU arithmetic of one attention backward: (q, k, v, params, dout) -> dq, dk, dv.
using AttentionBackward = std::function<void(const Tensor&, const Tensor&, const Tensor&, const AttentionParams&,
                                             const Tensor&, Tensor&, Tensor&, Tensor&)>;

// Records y = attention(q, k, v) with a backward that recomputes from the saved inputs.
void record_attention(Tensor& y, const char* name, const Tensor& q, const Tensor& k, const Tensor& v,
                      const AttentionParams& params, AttentionBackward kernel) {
  const Tensor qs = q.detach(), ks = k.detach(), vs = v.detach();
  const Tensor mask = params.key_padding_mask ? params.key_padding_mask->detach() : Tensor{};
  autograd::record(y, name, {q.autograd(), k.autograd(), v.autograd()}, [=](const Tensor& g) {
    AttentionParams p = params;
    p.key_padding_mask = mask.defined() ? &mask : nullptr;
    Tensor dq = Tensor::empty(qs.shape(), DType::F32, g.device());
    Tensor dk = Tensor::empty(ks.shape(), DType::F32, g.device());
    Tensor dv = Tensor::empty(vs.shape(), DType::F32, g.device());
    const Tensor gc = g.contiguous();
    on_device(name, g.device(), [&] { kernel(qs, ks, vs, p, gc, dq, dk, dv); });
    return std::vector<Tensor>{dq, dk, dv};
  });
}

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& params) {
  Tensor y;
  if (autograd::autocast_bf16()) {
    // Eager attention's matmuls in bf16 (ops/cpu/attention_bf16_op.cpp).
    const int64_t B = q.size(0), Hq = q.size(1), L = q.size(2), Dv = v.size(3);
    y = Tensor::empty({B, L, Hq * Dv}, DType::F32, q.device());
    on_device("attention (bf16 autocast)", q.device(), [&] { cpu_impl::attention_bf16(q, k, v, params, y); });
    const bool k_bf16 = autograd::holds_bf16(k), v_bf16 = autograd::holds_bf16(v);
    record_attention(y, "attention (bf16 autocast)", q, k, v, params,
                     [k_bf16, v_bf16](const Tensor& qs, const Tensor& ks, const Tensor& vs, const AttentionParams& p,
                                      const Tensor& g, Tensor& dq, Tensor& dk, Tensor& dv) {
                       cpu_impl::attention_bf16_backward(qs, ks, vs, p, g, k_bf16, v_bf16, dq, dk, dv);
                     });
    autograd::mark_bf16(y);
    return y;
  }
  {
    autograd::NoGrad off;
    y = ops::attention(q, k, v, params);
  }
  record_attention(y, "attention", q, k, v, params, cpu_impl::attention_backward);
  return y;
}

}  // namespace transformers::ops::recorded
