// Backward of the elementwise ops, norms, activations, casts and the embedding gather (the
// loops are ops/cpu/elementwise_backward_op.cpp).
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops::recorded {

using autograd::meta_of;
using autograd::NoGrad;
using autograd::record;

namespace {
Tensor empty_f32(const Shape& shape, const Tensor& like) {
  return Tensor::empty(shape, DType::F32, like.device());
}

// g * s as a new tensor.
Tensor scaled(const Tensor& g, float s) {
  Tensor r = g.contiguous().clone();
  ops::scale_(r, s);
  return r;
}

// A copy of x (recording off), kept by a backward that needs x's value after x is mutated.
Tensor saved_copy(const Tensor& x) {
  NoGrad off;
  return x.contiguous().clone().detach();
}
}  // namespace

void refuse(const char* op, std::initializer_list<const Tensor*> inputs) {
  if (autograd::recording(inputs))
    throw NotImplementedError(
        transformers::detail::concat(op, ": no backward; it cannot take part in training"));
}

Tensor reduce_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  Tensor r = Tensor::zeros(shape, DType::F32, g.device());
  Tensor target = r.expand(g.shape());
  autograd::accumulate(target, g);
  return r;
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  Tensor y;
  {
    NoGrad off;
    y = ops::embedding(weight, ids);
  }
  const Tensor idx = ids.contiguous().detach();
  const Shape w_shape = weight.shape();
  record(y, "embedding", {weight.autograd()}, [=](const Tensor& g) {
    Tensor dw = empty_f32(w_shape, g);
    const Tensor gc = g.contiguous();
    on_device("embedding backward", g.device(), [&] { cpu_impl::embedding_backward(idx, gc, dw); });
    return std::vector<Tensor>{dw};
  });
  return y;
}

Tensor cast(const Tensor& x, DType dtype) {
  Tensor y;
  {
    NoGrad off;
    y = ops::cast(x, dtype);
  }
  // Gradients are f32 whatever the dtypes: the value passes through.
  record(y, "cast", {x.autograd()}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return y;
}

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y;
  {
    NoGrad off;
    y = ops::add(a, b);
  }
  record(y, "add", {a.autograd(), b.autograd()}, [](const Tensor& g) {
    return std::vector<Tensor>{g, g};
  });
  return y;
}

void add_(Tensor& a, const Tensor& b) {
  auto inputs = std::vector{a.autograd(), b.autograd()};
  {
    NoGrad off;
    ops::add_(a, b);
  }
  record(a, "add_", std::move(inputs), [](const Tensor& g) { return std::vector<Tensor>{g, g}; });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y;
  {
    NoGrad off;
    y = ops::mul(a, b);
  }
  const Tensor as = b.autograd() ? a.detach() : Tensor{}, bs = a.autograd() ? b.detach() : Tensor{};
  record(y, "mul", {a.autograd(), b.autograd()}, [=](const Tensor& g) {
    return std::vector<Tensor>{bs.defined() ? ops::mul(g.contiguous(), bs) : Tensor{},
                               as.defined() ? ops::mul(g.contiguous(), as) : Tensor{}};
  });
  return y;
}

void mul_(Tensor& a, const Tensor& b) {
  auto inputs = std::vector{a.autograd(), b.autograd()};
  const Tensor a_before = b.autograd() ? saved_copy(a) : Tensor{},
               bs = a.autograd() ? b.detach() : Tensor{};
  const Shape b_shape = b.shape();
  {
    NoGrad off;
    ops::mul_(a, b);
  }
  record(a, "mul_", std::move(inputs), [=](const Tensor& g) {
    Tensor da, db;
    if (bs.defined()) {
      da = g.contiguous().clone();
      ops::mul_(da, bs);
    }
    if (a_before.defined()) db = reduce_to(ops::mul(g.contiguous(), a_before), b_shape);
    return std::vector<Tensor>{da, db};
  });
}

void scale_(Tensor& a, float s) {
  auto inputs = std::vector{a.autograd()};
  {
    NoGrad off;
    ops::scale_(a, s);
  }
  record(a, "scale_", std::move(inputs),
         [s](const Tensor& g) { return std::vector<Tensor>{scaled(g, s)}; });
}

namespace {
// y = cap * tanh(x / cap) in place; the backward needs only y (kept as a copy: y may be mutated).
template <typename Forward>
void record_tanh_like(Tensor& x, float cap, const char* name, Forward&& forward) {
  auto inputs = std::vector{x.autograd()};
  {
    NoGrad off;
    forward();
  }
  const Tensor y = saved_copy(x);
  record(x, name, std::move(inputs), [y, cap](const Tensor& g) {
    Tensor dx = empty_f32(y.shape(), g);
    const Tensor gc = g.contiguous();
    on_device("tanh backward", g.device(), [&] { cpu_impl::tanh_backward(y, cap, gc, dx); });
    return std::vector<Tensor>{dx};
  });
}
}  // namespace

void softcap_(Tensor& x, float cap) {
  record_tanh_like(x, cap, "softcap_", [&] { ops::softcap_(x, cap); });
}
void tanh_(Tensor& x) {
  record_tanh_like(x, 1.0f, "tanh_", [&] { ops::tanh_(x); });
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps, bool unit_offset) {
  Tensor y;
  {
    NoGrad off;
    y = ops::rms_norm(x, weight, eps, unit_offset);
  }
  const Tensor xs = x.detach(), ws = weight.detach();
  const bool want_w = weight.autograd() != nullptr;
  record(y, "rms_norm", {x.autograd(), weight.autograd()}, [=](const Tensor& g) {
    Tensor dx = empty_f32(xs.shape(), g), dw = want_w ? empty_f32(ws.shape(), g) : Tensor{};
    const Tensor xc = xs.contiguous(), wc = ws.contiguous(), gc = g.contiguous();
    on_device("rms_norm backward", g.device(), [&] {
      cpu_impl::rms_norm_backward(xc, wc, eps, unit_offset, gc, dx, want_w ? &dw : nullptr);
    });
    return std::vector<Tensor>{dx, dw};
  });
  return y;
}

Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) {
  Tensor y;
  {
    NoGrad off;
    y = ops::layer_norm(x, weight, bias, eps);
  }
  const Tensor xs = x.detach(), ws = weight ? weight->detach() : Tensor{};
  const bool want_w = weight && weight->autograd(), want_b = bias && bias->autograd();
  const Shape b_shape = bias ? bias->shape() : Shape{};
  record(y, "layer_norm", {x.autograd(), meta_of(weight), meta_of(bias)}, [=](const Tensor& g) {
    Tensor dx = empty_f32(xs.shape(), g);
    Tensor dw = want_w ? empty_f32(ws.shape(), g) : Tensor{},
           db = want_b ? empty_f32(b_shape, g) : Tensor{};
    const Tensor xc = xs.contiguous(), wc = ws.defined() ? ws.contiguous() : Tensor{},
                 gc = g.contiguous();
    on_device("layer_norm backward", g.device(), [&] {
      cpu_impl::layer_norm_backward(xc, wc.defined() ? &wc : nullptr, eps, gc, dx,
                                    want_w ? &dw : nullptr, want_b ? &db : nullptr);
    });
    return std::vector<Tensor>{dx, dw, db};
  });
  return y;
}

void softmax_(Tensor& x) {
  auto inputs = std::vector{x.autograd()};
  {
    NoGrad off;
    ops::softmax_(x);
  }
  const Tensor y = saved_copy(x);
  record(x, "softmax_", std::move(inputs), [y](const Tensor& g) {
    Tensor dx = empty_f32(y.shape(), g);
    const Tensor gc = g.contiguous();
    on_device("softmax backward", g.device(), [&] { cpu_impl::softmax_backward(y, gc, dx); });
    return std::vector<Tensor>{dx};
  });
}

void normalize_sum_(Tensor& x) {
  auto inputs = std::vector{x.autograd()};
  const Tensor before = saved_copy(x);
  {
    NoGrad off;
    ops::normalize_sum_(x);
  }
  record(x, "normalize_sum_", std::move(inputs), [before](const Tensor& g) {
    Tensor dx = empty_f32(before.shape(), g);
    const Tensor gc = g.contiguous();
    on_device("normalize_sum backward", g.device(),
              [&] { cpu_impl::normalize_sum_backward(before, gc, dx); });
    return std::vector<Tensor>{dx};
  });
}

Tensor sigmoid(const Tensor& x) {
  Tensor y;
  {
    NoGrad off;
    y = ops::sigmoid(x);
  }
  const Tensor saved = y.detach();
  record(y, "sigmoid", {x.autograd()}, [saved](const Tensor& g) {
    Tensor dx = empty_f32(saved.shape(), g);
    const Tensor gc = g.contiguous();
    on_device("sigmoid backward", g.device(), [&] { cpu_impl::sigmoid_backward(saved, gc, dx); });
    return std::vector<Tensor>{dx};
  });
  return y;
}

void activation_(Tensor& x, Activation act) {
  auto inputs = std::vector{x.autograd()};
  const Tensor before = saved_copy(x);
  {
    NoGrad off;
    ops::activation_(x, act);
  }
  record(x, "activation_", std::move(inputs), [before, act](const Tensor& g) {
    Tensor dx = empty_f32(before.shape(), g);
    const Tensor gc = g.contiguous();
    on_device("activation backward", g.device(),
              [&] { cpu_impl::activation_backward(before, act, gc, dx); });
    return std::vector<Tensor>{dx};
  });
}

Tensor gated_activation(const Tensor& gate, const Tensor& up, Activation act) {
  // bf16 autocast with both halves bf16 (linear outputs): torch's act and product run in bf16.
  const bool bf16 = autograd::holds_bf16(gate) && autograd::holds_bf16(up);
  Tensor y;
  {
    NoGrad off;
    if (bf16) {
      y = empty_f32(gate.shape(), gate);
      const Tensor gc = gate.contiguous(), uc = up.contiguous();
      on_device("gated_activation (bf16 autocast)", gate.device(),
                [&] { cpu_impl::gated_activation_bf16(gc, uc, act, y); });
    } else {
      y = ops::gated_activation(gate, up, act);
    }
  }
  const Tensor gs = gate.detach(), us = up.detach();
  const bool want_gate = gate.autograd() != nullptr, want_up = up.autograd() != nullptr;
  record(y, "gated_activation", {gate.autograd(), up.autograd()}, [=](const Tensor& g) {
    Tensor dgate = want_gate ? empty_f32(gs.shape(), g) : Tensor{},
           dup = want_up ? empty_f32(us.shape(), g) : Tensor{};
    const Tensor gc = gs.contiguous(), uc = us.contiguous(), grad = g.contiguous();
    on_device("gated_activation backward", g.device(), [&] {
      cpu_impl::gated_activation_backward(gc, uc, act, grad, want_gate ? &dgate : nullptr,
                                          want_up ? &dup : nullptr, bf16);
    });
    return std::vector<Tensor>{dgate, dup};
  });
  if (bf16) autograd::mark_bf16(y);
  return y;
}

}  // namespace transformers::ops::recorded
