// The op API of elementwise ops, norms, activations, casts and the embedding gather: checks,
// output allocation and the device switch; the loops are in ops/cpu/elementwise_op.cpp.
#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/ops.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops {

namespace {
using checks::require_f32;

// The checks of an in-place op on x: f32, contiguous, writable.
void require_in_place(const Tensor& x, const char* op) {
  require_f32(x, op);
  TCPP_CHECK(x.is_contiguous(), ShapeError, op, ": tensor must be contiguous, got ", x.describe());
  checks::require_writable(x, op);
}
}  // namespace

Activation activation_from_name(const std::string& name, const std::string& where) {
  if (name == "silu" || name == "swish") return Activation::SiLU;
  if (name == "gelu") return Activation::GELU;
  if (name == "gelu_pytorch_tanh" || name == "gelu_new" || name == "gelu_fast" ||
      name == "gelu_python_tanh")
    return Activation::GELUTanh;
  if (name == "relu") return Activation::ReLU;
  throw ConfigError(transformers::detail::concat(where, ": unsupported activation '", name, "'"));
}

Tensor to(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  throw NotImplementedError(transformers::detail::concat(
      "to: copying ", x.describe(), " from ", device_name(x.device()), " to ", device_name(device),
      " is not supported by this build (only cpu)"));
}

namespace {
Tensor cast_impl(const Tensor& x, DType dtype, float int8_threshold) {
  checks::require_one_device("cast", {&x});
  auto castable = [](DType dt) { return is_floating(dt) || is_block_dtype(dt); };
  TCPP_CHECK(castable(x.dtype()) && castable(dtype), ShapeError, "cast: only float and quantized dtypes, got ",
             x.describe(), " -> ", dtype_torch_name(dtype));
  TCPP_CHECK(!is_block_dtype(dtype) || (x.dim() > 0 && x.size(-1) % dtype_block_elements(dtype) == 0), ShapeError,
             "cast: ", x.describe(), " to ", dtype_torch_name(dtype), " needs a last dimension that is a multiple of ",
             dtype_block_elements(dtype));
  Tensor src = x.contiguous();
  if (src.dtype() == dtype) return src.clone();
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  on_device("cast", x.device(), [&] { cpu_impl::cast(src, out, int8_threshold); });
  return out;
}
}  // namespace

Tensor cast(const Tensor& x, DType dtype) {
  if (autograd::recording({&x})) [[unlikely]] return recorded::cast(x, dtype);
  return cast_impl(x, dtype, 6.0f);
}

Tensor quantize_weighted(const Tensor& x, DType dtype, const Tensor& importance) {
  TCPP_CHECK(is_block_dtype(dtype), ShapeError, "quantize_weighted: a quantized dtype, got ", dtype_torch_name(dtype));
  TCPP_CHECK(is_floating(x.dtype()) && (x.dim() == 2 || x.dim() == 3), ShapeError,
             "quantize_weighted: a float [N, K] or [E, N, K] tensor, got ", x.describe());
  const int64_t K = x.size(-1), matrices = x.dim() == 3 ? x.size(0) : 1;
  TCPP_CHECK(K % dtype_block_elements(dtype) == 0, ShapeError, "quantize_weighted: ", x.describe(), " to ",
             dtype_torch_name(dtype), " needs a last dimension that is a multiple of ", dtype_block_elements(dtype));
  TCPP_CHECK(importance.dtype() == DType::F32 && importance.numel() == matrices * K &&
                 importance.size(-1) == K && importance.dim() == x.dim() - 1,
             ShapeError, "quantize_weighted: importance must be f32 [", x.dim() == 3 ? std::to_string(matrices) + ", " : "",
             K, "] for ", x.describe(), ", got ", importance.describe());
  checks::require_one_device("quantize_weighted", {&x, &importance});
  const Tensor src = x.contiguous(), weights = importance.contiguous();
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  on_device("quantize_weighted", x.device(), [&] { cpu_impl::quantize_weighted(src, weights, out); });
  return out;
}

Tensor bnb_double_quantize(const Tensor& x) {
  TCPP_CHECK(x.dtype() == DType::NF4 || x.dtype() == DType::FP4, ShapeError,
             "bnb_double_quantize: an NF4 or FP4 tensor, got ", x.describe());
  checks::require_one_device("bnb_double_quantize", {&x});
  Tensor out = x.contiguous().clone();
  on_device("bnb_double_quantize", x.device(), [&] { cpu_impl::bnb_double_quantize_(out); });
  return out;
}

Tensor quantize_llm_int8(const Tensor& x, float threshold) {
  TCPP_CHECK(threshold >= 0.0f, ValueError, "quantize_llm_int8: threshold must be >= 0, got ", threshold);
  TCPP_CHECK(is_floating(x.dtype()), ShapeError, "quantize_llm_int8: a float tensor, got ", x.describe());
  return cast_impl(x, DType::LLM_INT8, threshold);
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  if (autograd::recording({&weight})) [[unlikely]] return recorded::embedding(weight, ids);
  TCPP_CHECK(weight.dim() == 2 && (is_floating(weight.dtype()) || is_block_dtype(weight.dtype())) &&
                 weight.is_contiguous(),
             ShapeError, "embedding: weight must be a contiguous float or quantized [V, H] matrix, got ",
             weight.describe());
  TCPP_CHECK(ids.dtype() == DType::I64 || ids.dtype() == DType::I32, ShapeError,
             "embedding: ids must be integers, got ", ids.describe());
  checks::require_one_device("embedding", {&weight, &ids});
  Tensor idx = ids.contiguous();
  Shape out_shape = ids.shape();
  out_shape.push_back(weight.size(1));
  Tensor out = Tensor::empty(out_shape, DType::F32, weight.device());
  on_device("embedding", weight.device(), [&] { cpu_impl::embedding(weight, idx, out); });
  return out;
}

namespace {
using BinaryImpl = void (*)(const Tensor&, const Tensor&, Tensor&);

Tensor binary(const Tensor& a, const Tensor& b, const char* op, BinaryImpl cpu) {
  require_f32(a, op);
  require_f32(b, op);
  checks::require_one_device(op, {&a, &b});
  TCPP_CHECK(a.shape() == b.shape(), ShapeError, op, ": shapes differ: ", a.describe(), " and ",
             b.describe());
  Tensor ac = a.contiguous(), bc = b.contiguous();
  Tensor out = Tensor::empty(a.shape(), DType::F32, a.device());
  on_device(op, a.device(), [&] { cpu(ac, bc, out); });
  return out;
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  if (autograd::recording({&a, &b})) [[unlikely]] return recorded::add(a, b);
  return binary(a, b, "add", cpu_impl::add);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  if (autograd::recording({&a, &b})) [[unlikely]] return recorded::mul(a, b);
  return binary(a, b, "mul", cpu_impl::mul);
}

void add_(Tensor& a, const Tensor& b) {
  if (autograd::recording({&a, &b})) [[unlikely]] return recorded::add_(a, b);
  require_f32(a, "add_");
  require_f32(b, "add_");
  checks::require_one_device("add_", {&a, &b});
  TCPP_CHECK(a.shape() == b.shape() && a.is_contiguous(), ShapeError, "add_: ", a.describe(),
             " += ", b.describe());
  Tensor bc = b.contiguous();
  on_device("add_", a.device(), [&] { cpu_impl::add(a, bc, a); });
}

void scale_(Tensor& a, float s) {
  if (autograd::recording({&a})) [[unlikely]] return recorded::scale_(a, s);
  require_f32(a, "scale_");
  TCPP_CHECK(a.is_contiguous(), ShapeError, "scale_: tensor must be contiguous");
  on_device("scale_", a.device(), [&] { cpu_impl::scale_(a, s); });
}

namespace {
using BroadcastImpl = void (*)(Tensor&, const Tensor&);

// a = a op b with b broadcast to a's shape (torch's rules, b at most a's rank).
void broadcast_(Tensor& a, const Tensor& b, const char* op, BroadcastImpl cpu) {
  require_in_place(a, op);
  require_f32(b, op);
  checks::require_one_device(op, {&a, &b});
  bool fits = b.dim() <= a.dim();
  for (int64_t d = 1; fits && d <= b.dim(); ++d) fits = b.size(-d) == a.size(-d) || b.size(-d) == 1;
  TCPP_CHECK(fits, ShapeError, op, ": ", b.describe(), " does not broadcast to ", a.describe());
  Tensor bc = b.expand(a.shape()).contiguous();
  on_device(op, a.device(), [&] { cpu(a, bc); });
}
}  // namespace

void mul_(Tensor& a, const Tensor& b) {
  if (autograd::recording({&a, &b})) [[unlikely]] return recorded::mul_(a, b);
  broadcast_(a, b, "mul_", cpu_impl::mul_same_shape_);
}
void div_(Tensor& a, const Tensor& b) {
  recorded::refuse("div_", {&a, &b});
  broadcast_(a, b, "div_", cpu_impl::div_same_shape_);
}

void softcap_(Tensor& x, float cap) {
  if (autograd::recording({&x})) [[unlikely]] return recorded::softcap_(x, cap);
  TCPP_CHECK(cap > 0.f, ValueError, "softcap_: cap must be > 0, got ", cap);
  require_in_place(x, "softcap_");
  on_device("softcap_", x.device(), [&] { cpu_impl::softcap_(x, cap); });
}

void tanh_(Tensor& x) {
  if (autograd::recording({&x})) [[unlikely]] return recorded::tanh_(x);
  require_in_place(x, "tanh_");
  on_device("tanh_", x.device(), [&] { cpu_impl::tanh_(x); });
}

Tensor sigmoid(const Tensor& x) {
  if (autograd::recording({&x})) [[unlikely]] return recorded::sigmoid(x);
  require_f32(x, "sigmoid");
  Tensor out = x.contiguous().clone();
  on_device("sigmoid", x.device(), [&] { cpu_impl::sigmoid_(out); });
  return out;
}

void normalize_sum_(Tensor& x) {
  if (autograd::recording({&x})) [[unlikely]] return recorded::normalize_sum_(x);
  require_f32(x, "normalize_sum_");
  TCPP_CHECK(x.dim() >= 1 && x.is_contiguous(), ShapeError,
             "normalize_sum_: expected a contiguous tensor, got ", x.describe());
  checks::require_writable(x, "normalize_sum_");
  on_device("normalize_sum_", x.device(), [&] { cpu_impl::normalize_sum_(x); });
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps, bool unit_offset) {
  if (autograd::recording({&x, &weight})) [[unlikely]] return recorded::rms_norm(x, weight, eps, unit_offset);
  require_f32(x, "rms_norm");
  require_f32(weight, "rms_norm weight");
  checks::require_one_device("rms_norm", {&x, &weight});
  TCPP_CHECK(weight.numel() == x.size(-1), ShapeError, "rms_norm: weight ", weight.describe(),
             " for input ", x.describe());
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  on_device("rms_norm", x.device(), [&] { cpu_impl::rms_norm(xc, weight, eps, unit_offset, out); });
  return out;
}

Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) {
  if (autograd::recording({&x, weight, bias})) [[unlikely]] return recorded::layer_norm(x, weight, bias, eps);
  require_f32(x, "layer_norm");
  checks::require_one_device("layer_norm", {&x, weight, bias});
  const int64_t H = x.size(-1);
  if (weight)
    TCPP_CHECK(weight->numel() == H && weight->dtype() == DType::F32, ShapeError,
               "layer_norm: weight ", weight->describe());
  if (bias)
    TCPP_CHECK(bias->numel() == H && bias->dtype() == DType::F32, ShapeError, "layer_norm: bias ",
               bias->describe());
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  on_device("layer_norm", x.device(), [&] { cpu_impl::layer_norm(xc, weight, bias, eps, out); });
  return out;
}

void softmax_(Tensor& x) {
  if (autograd::recording({&x})) [[unlikely]] return recorded::softmax_(x);
  require_f32(x, "softmax_");
  TCPP_CHECK(x.is_contiguous(), ShapeError, "softmax_: tensor must be contiguous");
  on_device("softmax_", x.device(), [&] { cpu_impl::softmax_(x); });
}

void activation_(Tensor& x, Activation act) {
  if (autograd::recording({&x})) [[unlikely]] return recorded::activation_(x, act);
  require_f32(x, "activation_");
  TCPP_CHECK(x.is_contiguous(), ShapeError, "activation_: tensor must be contiguous");
  on_device("activation_", x.device(), [&] { cpu_impl::activation_(x, act); });
}

Tensor gated_activation(const Tensor& gate, const Tensor& up, Activation act) {
  // Checked before the recorded path too: its bf16 autocast kernel takes both as one shape.
  require_f32(gate, "gated_activation");
  require_f32(up, "gated_activation");
  checks::require_one_device("gated_activation", {&gate, &up});
  TCPP_CHECK(gate.shape() == up.shape(), ShapeError, "gated_activation: shapes differ: ", gate.describe(), " and ",
             up.describe());
  if (autograd::recording({&gate, &up})) [[unlikely]] return recorded::gated_activation(gate, up, act);
  if (act == Activation::SiLU) return binary(gate, up, "gated_activation", cpu_impl::silu_mul);
  if (act == Activation::GELUTanh)
    return binary(gate, up, "gated_activation", cpu_impl::gelu_tanh_mul);
  Tensor g = gate.contiguous().clone();
  activation_(g, act);
  return mul(g, up);
}

}  // namespace transformers::ops
