#include <cmath>
#include <cstring>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/ops.h"

namespace transformers::ops {

namespace {
const cpu::Kernels& K() { return cpu::kernels(); }

using checks::require_f32;

// Runs fn(row_begin, row_end) over the rows of a [rows, n] problem on the pool when it is big
// enough to pay for the wake-up.
template <typename F>
void for_rows(int64_t rows, int64_t n, F&& fn) {
  if (rows * n < (1 << 15) || rows == 1) {
    fn(0, rows);
    return;
  }
  ThreadPool::global().parallel_for(rows, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(n, 1)), fn);
}
}  // namespace

Activation activation_from_name(const std::string& name, const std::string& where) {
  if (name == "silu" || name == "swish") return Activation::SiLU;
  if (name == "gelu") return Activation::GELU;
  if (name == "gelu_pytorch_tanh" || name == "gelu_new" || name == "gelu_fast" || name == "gelu_python_tanh")
    return Activation::GELUTanh;
  if (name == "relu") return Activation::ReLU;
  throw ConfigError(transformers::detail::concat(where, ": unsupported activation '", name, "'"));
}

Tensor to(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  throw NotImplementedError(transformers::detail::concat("to: copying ", x.describe(), " from ", device_name(x.device()),
                                                         " to ", device_name(device),
                                                         " is not supported by this build (only cpu)"));
}

Tensor cast(const Tensor& x, DType dtype) {
  checks::require_one_device("cast", {&x});
  TCPP_CHECK(is_floating(x.dtype()) && is_floating(dtype), ShapeError, "cast: only float dtypes, got ", x.describe(),
             " -> ", dtype_torch_name(dtype));
  Tensor src = x.contiguous();
  if (src.dtype() == dtype) return src.clone();
  Tensor out = Tensor::empty(x.shape(), dtype);
  const int64_t n = x.numel();
  const size_t in_es = src.element_size(), out_es = out.element_size();
  ThreadPool::global().parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) {
    const char* s = static_cast<const char*>(src.raw_data()) + b * in_es;
    char* d = static_cast<char*>(out.raw_data()) + b * out_es;
    if (dtype == DType::F32) {
      K().to_f32(s, src.dtype(), reinterpret_cast<float*>(d), e - b);
    } else if (src.dtype() == DType::F32) {
      K().from_f32(reinterpret_cast<const float*>(s), d, dtype, e - b);
    } else {
      std::vector<float> tmp(e - b);
      K().to_f32(s, src.dtype(), tmp.data(), e - b);
      K().from_f32(tmp.data(), d, dtype, e - b);
    }
  });
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  TCPP_CHECK(weight.dim() == 2 && is_floating(weight.dtype()) && weight.is_contiguous(), ShapeError,
             "embedding: weight must be a contiguous float [V, H] matrix, got ", weight.describe());
  TCPP_CHECK(ids.dtype() == DType::I64 || ids.dtype() == DType::I32, ShapeError, "embedding: ids must be integers, got ",
             ids.describe());
  checks::require_one_device("embedding", {&weight, &ids});
  Tensor idx = ids.contiguous();
  const int64_t V = weight.size(0), H = weight.size(1), n = idx.numel();
  Shape out_shape = ids.shape();
  out_shape.push_back(H);
  Tensor out = Tensor::empty(out_shape, DType::F32);
  const size_t row_bytes = static_cast<size_t>(H) * weight.element_size();
  for (int64_t i = 0; i < n; ++i) {
    int64_t id = idx.dtype() == DType::I64 ? idx.data<int64_t>()[i] : idx.data<int32_t>()[i];
    TCPP_CHECK(id >= 0 && id < V, ValueError, "token id ", id, " is out of range for a vocabulary of ", V);
    K().to_f32(static_cast<const char*>(weight.raw_data()) + id * row_bytes, weight.dtype(), out.data<float>() + i * H, H);
  }
  return out;
}

namespace {
template <typename F>
Tensor binary(const Tensor& a, const Tensor& b, const char* op, F kernel) {
  require_f32(a, op);
  require_f32(b, op);
  checks::require_one_device(op, {&a, &b});
  TCPP_CHECK(a.shape() == b.shape(), ShapeError, op, ": shapes differ: ", a.describe(), " and ", b.describe());
  Tensor ac = a.contiguous(), bc = b.contiguous();
  Tensor out = Tensor::empty(a.shape(), DType::F32);
  const int64_t n = a.numel();
  for_rows(n, 1, [&](int64_t s, int64_t e) { kernel(ac.data<float>() + s, bc.data<float>() + s, out.data<float>() + s, e - s); });
  return out;
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, "add", K().add); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, "mul", K().mul); }

void add_(Tensor& a, const Tensor& b) {
  require_f32(a, "add_");
  require_f32(b, "add_");
  checks::require_one_device("add_", {&a, &b});
  TCPP_CHECK(a.shape() == b.shape() && a.is_contiguous(), ShapeError, "add_: ", a.describe(), " += ", b.describe());
  Tensor bc = b.contiguous();
  for_rows(a.numel(), 1, [&](int64_t s, int64_t e) {
    K().add(a.data<float>() + s, bc.data<float>() + s, a.data<float>() + s, e - s);
  });
}

void scale_(Tensor& a, float s) {
  require_f32(a, "scale_");
  TCPP_CHECK(a.is_contiguous(), ShapeError, "scale_: tensor must be contiguous");
  K().scale(a.data<float>(), s, a.data<float>(), a.numel());
}

namespace {
// a = f(a, b) elementwise with b broadcast to a's shape (torch's rules, b at most a's rank).
template <typename F>
void broadcast_(Tensor& a, const Tensor& b, const char* op, F f) {
  require_f32(a, op);
  require_f32(b, op);
  checks::require_one_device(op, {&a, &b});
  TCPP_CHECK(a.is_contiguous(), ShapeError, op, ": tensor must be contiguous, got ", a.describe());
  checks::require_writable(a, op);
  bool fits = b.dim() <= a.dim();
  for (int64_t d = 1; fits && d <= b.dim(); ++d) fits = b.size(-d) == a.size(-d) || b.size(-d) == 1;
  TCPP_CHECK(fits, ShapeError, op, ": ", b.describe(), " does not broadcast to ", a.describe());
  Tensor bc = b.expand(a.shape()).contiguous();
  for_rows(a.numel(), 1, [&](int64_t s, int64_t e) {
    float* pa = a.data<float>();
    const float* pb = bc.data<float>();
    for (int64_t i = s; i < e; ++i) pa[i] = f(pa[i], pb[i]);
  });
}
}  // namespace

void mul_(Tensor& a, const Tensor& b) {
  broadcast_(a, b, "mul_", [](float x, float y) { return x * y; });
}
void div_(Tensor& a, const Tensor& b) {
  broadcast_(a, b, "div_", [](float x, float y) { return x / y; });
}

namespace {
// Applies f to every element of a contiguous, writable f32 tensor, in place.
template <typename F>
void map_(Tensor& x, const char* op, F f) {
  require_f32(x, op);
  TCPP_CHECK(x.is_contiguous(), ShapeError, op, ": tensor must be contiguous, got ", x.describe());
  checks::require_writable(x, op);
  for_rows(x.numel(), 1, [&](int64_t s, int64_t e) {
    float* p = x.data<float>();
    for (int64_t i = s; i < e; ++i) p[i] = f(p[i]);
  });
}
}  // namespace

void softcap_(Tensor& x, float cap) {
  TCPP_CHECK(cap > 0.f, ValueError, "softcap_: cap must be > 0, got ", cap);
  map_(x, "softcap_", [cap](float v) { return cap * std::tanh(v / cap); });
}

void tanh_(Tensor& x) {
  map_(x, "tanh_", [](float v) { return std::tanh(v); });
}

Tensor sigmoid(const Tensor& x) {
  require_f32(x, "sigmoid");
  Tensor out = x.contiguous().clone();
  map_(out, "sigmoid", [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
  return out;
}

void normalize_sum_(Tensor& x) {
  require_f32(x, "normalize_sum_");
  TCPP_CHECK(x.dim() >= 1 && x.is_contiguous(), ShapeError, "normalize_sum_: expected a contiguous tensor, got ",
             x.describe());
  checks::require_writable(x, "normalize_sum_");
  const int64_t n = x.size(-1), rows = n > 0 ? x.numel() / n : 0;
  float* p = x.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    float sum = 0;  // summed in order, as the routers' renormalisation did before it was an op
    for (int64_t j = 0; j < n; ++j) sum += p[r * n + j];
    for (int64_t j = 0; j < n; ++j) p[r * n + j] /= sum;
  }
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps, bool unit_offset) {
  require_f32(x, "rms_norm");
  require_f32(weight, "rms_norm weight");
  checks::require_one_device("rms_norm", {&x, &weight});
  const int64_t H = x.size(-1);
  TCPP_CHECK(weight.numel() == H, ShapeError, "rms_norm: weight ", weight.describe(), " for input ", x.describe());
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  const int64_t rows = x.numel() / H;
  for_rows(rows, H, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r)
      K().rms_norm_row(xc.data<float>() + r * H, weight.data<float>(), eps, unit_offset, out.data<float>() + r * H, H);
  });
  return out;
}

Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) {
  require_f32(x, "layer_norm");
  checks::require_one_device("layer_norm", {&x, weight, bias});
  const int64_t H = x.size(-1);
  if (weight) TCPP_CHECK(weight->numel() == H && weight->dtype() == DType::F32, ShapeError, "layer_norm: weight ", weight->describe());
  if (bias) TCPP_CHECK(bias->numel() == H && bias->dtype() == DType::F32, ShapeError, "layer_norm: bias ", bias->describe());
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  const int64_t rows = x.numel() / H;
  for_rows(rows, H, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r)
      K().layer_norm_row(xc.data<float>() + r * H, weight ? weight->data<float>() : nullptr,
                         bias ? bias->data<float>() : nullptr, eps, out.data<float>() + r * H, H);
  });
  return out;
}

void softmax_(Tensor& x) {
  require_f32(x, "softmax_");
  TCPP_CHECK(x.is_contiguous(), ShapeError, "softmax_: tensor must be contiguous");
  const int64_t n = x.size(-1), rows = x.numel() / std::max<int64_t>(n, 1);
  for_rows(rows, n, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) K().softmax_row(x.data<float>() + r * n, n);
  });
}

void activation_(Tensor& x, Activation act) {
  require_f32(x, "activation_");
  TCPP_CHECK(x.is_contiguous(), ShapeError, "activation_: tensor must be contiguous");
  for_rows(x.numel(), 1, [&](int64_t s, int64_t e) {
    float* p = x.data<float>() + s;
    switch (act) {
      case Activation::SiLU: K().silu(p, e - s); break;
      case Activation::GELU: K().gelu(p, e - s); break;
      case Activation::GELUTanh: K().gelu_tanh(p, e - s); break;
      case Activation::ReLU:
        for (int64_t i = 0; i < e - s; ++i) p[i] = p[i] > 0.f ? p[i] : 0.f;
        break;
    }
  });
}

Tensor gated_activation(const Tensor& gate, const Tensor& up, Activation act) {
  if (act == Activation::SiLU) return binary(gate, up, "gated_activation", K().silu_mul);
  if (act == Activation::GELUTanh) return binary(gate, up, "gated_activation", K().gelu_tanh_mul);
  Tensor g = gate.contiguous().clone();
  activation_(g, act);
  return mul(g, up);
}

}  // namespace transformers::ops
