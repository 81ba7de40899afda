// CPU elementwise ops, norms, activations, casts and the embedding gather (see cpu_ops.h).
#include <cmath>
#include <vector>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/cpu/bnb_blocks.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/llm_int8.h"

namespace transformers::ops::cpu_impl {

namespace {
const cpu::Kernels& K() { return cpu::kernels(); }

// Runs fn(row_begin, row_end) over the rows of a [rows, n] problem on the pool when it is big
// enough to pay for the wake-up.
template <typename F>
void for_rows(int64_t rows, int64_t n, F&& fn) {
  if (rows * n < (1 << 15) || rows == 1) {
    fn(0, rows);
    return;
  }
  ThreadPool::global().parallel_for(rows, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(n, 1)),
                                    fn);
}

using BinaryKernel = void (*)(const float*, const float*, float*, int64_t);

void binary(const Tensor& a, const Tensor& b, Tensor& out, BinaryKernel kernel) {
  for_rows(a.numel(), 1, [&](int64_t s, int64_t e) {
    kernel(a.data<float>() + s, b.data<float>() + s, out.data<float>() + s, e - s);
  });
}

// a = f(a, b) elementwise.
template <typename F>
void zip_(Tensor& a, const Tensor& b, F f) {
  for_rows(a.numel(), 1, [&](int64_t s, int64_t e) {
    float* pa = a.data<float>();
    const float* pb = b.data<float>();
    for (int64_t i = s; i < e; ++i) pa[i] = f(pa[i], pb[i]);
  });
}

// x = f(x) elementwise.
template <typename F>
void map_(Tensor& x, F f) {
  for_rows(x.numel(), 1, [&](int64_t s, int64_t e) {
    float* p = x.data<float>();
    for (int64_t i = s; i < e; ++i) p[i] = f(p[i]);
  });
}
}  // namespace

void quantize_weighted(const Tensor& src, const Tensor& importance, Tensor& out) {
  const DType from = src.dtype(), dtype = out.dtype();
  const int64_t cols = src.size(-1), rows = src.numel() / cols, rows_per_matrix = src.size(-2);
  const auto& format = cpu::weight_format(dtype);
  const auto* weights = static_cast<const float*>(importance.raw_data());
  ThreadPool::global().parallel_for(rows, std::max<int64_t>(1, (1 << 14) / cols), [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      const char* s = static_cast<const char*>(src.raw_data()) + dtype_nbytes(from, r * cols);
      const float* x = reinterpret_cast<const float*>(s);
      if (from != DType::F32) {
        K().to_f32(s, from, row.data(), cols);
        x = row.data();
      }
      char* d = static_cast<char*>(out.raw_data()) + dtype_nbytes(dtype, r * cols);
      if (format.quantize_weighted) format.quantize_weighted(x, d, cols, weights + r / rows_per_matrix * cols);
      else format.quantize(x, d, cols);  // Q8_0: GGML has no weighted form either
    }
  });
}

void cast(const Tensor& src, Tensor& out, float int8_threshold) {
  const DType from = src.dtype(), dtype = out.dtype();
  // Work in units of whole blocks when either side is a block dtype (quantize / dequantize),
  // through an f32 buffer of one chunk: a tensor is never held whole in f32. A row-scaled target
  // (LLM_INT8) is quantized in units of whole rows.
  const bool rows = is_block_dtype(dtype) && cpu::weight_format(dtype).row_scaled;
  const int64_t unit = rows ? src.size(-1) : std::max(dtype_block_elements(from), dtype_block_elements(dtype));
  const int64_t units = src.numel() / unit;
  auto to_f32 = [&](const char* s, float* d, int64_t n) {
    if (is_block_dtype(from)) cpu::weight_format(from).dequantize(s, d, n);
    else K().to_f32(s, from, d, n);
  };
  auto from_f32 = [&](const float* s, char* d, int64_t n) {
    if (dtype == DType::LLM_INT8) {
      for (int64_t r = 0; r < n / unit; ++r)
        cpu::quantize_llm_int8_row(s + r * unit, d + dtype_nbytes(dtype, r * unit), unit, int8_threshold);
    } else if (is_block_dtype(dtype)) {
      cpu::weight_format(dtype).quantize(s, d, n);
    } else {
      K().from_f32(s, d, dtype, n);
    }
  };
  ThreadPool::global().parallel_for(units, std::max<int64_t>(1, (1 << 16) / unit), [&](int64_t ub, int64_t ue) {
    const int64_t b = ub * unit, n = (ue - ub) * unit;
    const char* s = static_cast<const char*>(src.raw_data()) + dtype_nbytes(from, b);
    char* d = static_cast<char*>(out.raw_data()) + dtype_nbytes(dtype, b);
    if (dtype == DType::F32) {
      to_f32(s, reinterpret_cast<float*>(d), n);
    } else if (from == DType::F32) {
      from_f32(reinterpret_cast<const float*>(s), d, n);
    } else {
      std::vector<float> tmp(static_cast<size_t>(n));
      to_f32(s, tmp.data(), n);
      from_f32(tmp.data(), d, n);
    }
  });
}

void bnb_double_quantize_(Tensor& x) {
  cpu::bnb_double_quantize_blocks(x.raw_data(), x.numel() / cpu::kBnbBlock);
}

void embedding(const Tensor& weight, const Tensor& ids, Tensor& out) {
  const int64_t V = weight.size(0), H = weight.size(1), n = ids.numel();
  // Rows are converted by the weight format's dequant_rows, so quantized (and tied) embeddings
  // work as float ones do.
  const auto& wk = K().weight(weight.dtype());
  for (int64_t i = 0; i < n; ++i) {
    int64_t id = ids.dtype() == DType::I64 ? ids.data<int64_t>()[i] : ids.data<int32_t>()[i];
    TCPP_CHECK(id >= 0 && id < V, ValueError, "token id ", id,
               " is out of range for a vocabulary of ", V);
    wk.dequant_rows(weight.raw_data(), H, id, 1, out.data<float>() + i * H);
  }
}

void add(const Tensor& a, const Tensor& b, Tensor& out) { binary(a, b, out, K().add); }
void mul(const Tensor& a, const Tensor& b, Tensor& out) { binary(a, b, out, K().mul); }
void silu_mul(const Tensor& gate, const Tensor& up, Tensor& out) {
  binary(gate, up, out, K().silu_mul);
}
void gelu_tanh_mul(const Tensor& gate, const Tensor& up, Tensor& out) {
  binary(gate, up, out, K().gelu_tanh_mul);
}

void mul_same_shape_(Tensor& a, const Tensor& b) {
  zip_(a, b, [](float x, float y) { return x * y; });
}
void div_same_shape_(Tensor& a, const Tensor& b) {
  zip_(a, b, [](float x, float y) { return x / y; });
}

void scale_(Tensor& a, float s) { K().scale(a.data<float>(), s, a.data<float>(), a.numel()); }

void softcap_(Tensor& x, float cap) {
  map_(x, [cap](float v) { return cap * std::tanh(v / cap); });
}

void tanh_(Tensor& x) {
  map_(x, [](float v) { return std::tanh(v); });
}

void sigmoid_(Tensor& x) {
  map_(x, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
}

void normalize_sum_(Tensor& x) {
  const int64_t n = x.size(-1), rows = n > 0 ? x.numel() / n : 0;
  float* p = x.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    float sum = 0;  // summed in order, as the routers' renormalisation did before it was an op
    for (int64_t j = 0; j < n; ++j) sum += p[r * n + j];
    for (int64_t j = 0; j < n; ++j) p[r * n + j] /= sum;
  }
}

void rms_norm(const Tensor& x, const Tensor& weight, float eps, bool unit_offset, Tensor& out) {
  const int64_t H = x.size(-1), rows = x.numel() / H;
  for_rows(rows, H, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r)
      K().rms_norm_row(x.data<float>() + r * H, weight.data<float>(), eps, unit_offset,
                       out.data<float>() + r * H, H);
  });
}

void layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps, Tensor& out) {
  const int64_t H = x.size(-1), rows = x.numel() / H;
  for_rows(rows, H, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r)
      K().layer_norm_row(x.data<float>() + r * H, weight ? weight->data<float>() : nullptr,
                         bias ? bias->data<float>() : nullptr, eps, out.data<float>() + r * H, H);
  });
}

void softmax_(Tensor& x) {
  const int64_t n = x.size(-1), rows = x.numel() / std::max<int64_t>(n, 1);
  for_rows(rows, n, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) K().softmax_row(x.data<float>() + r * n, n);
  });
}

void activation_(Tensor& x, Activation act) {
  for_rows(x.numel(), 1, [&](int64_t s, int64_t e) {
    float* p = x.data<float>() + s;
    switch (act) {
      case Activation::SiLU:
        K().silu(p, e - s);
        break;
      case Activation::GELU:
        K().gelu(p, e - s);
        break;
      case Activation::GELUTanh:
        K().gelu_tanh(p, e - s);
        break;
      case Activation::ReLU:
        for (int64_t i = 0; i < e - s; ++i) p[i] = p[i] > 0.f ? p[i] : 0.f;
        break;
    }
  });
}

}  // namespace transformers::ops::cpu_impl
