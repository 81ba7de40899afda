// CPU copies, gathers and scatters along the first dimension, index fills, and reading tensors
// back into host values (see cpu_ops.h).
#include <algorithm>
#include <cstring>

#include "transformers/ops/cpu/cpu_ops.h"

namespace transformers::ops::cpu_impl {

namespace {

// Visits the innermost rows of a shape: fn(dst_offset, src_offset) in elements, in row-major order.
template <typename F>
void for_each_row(const Shape& shape, const Shape& dst_strides, const Shape& src_strides, F&& fn) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  const int64_t rows = nd == 0 ? 1 : shape_numel(shape) / std::max<int64_t>(shape[nd - 1], 1);
  std::vector<int64_t> idx(std::max<int64_t>(nd - 1, 0), 0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t d = 0, s = 0;
    for (int64_t k = 0; k + 1 < nd; ++k) {
      d += idx[k] * dst_strides[k];
      s += idx[k] * src_strides[k];
    }
    fn(d, s);
    for (int64_t k = nd - 2; k >= 0; --k) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
}

template <typename T, typename F>
void for_each_value(const Tensor& c, F&& fn) {
  const T* p = static_cast<const T*>(c.raw_data());
  for (int64_t i = 0; i < c.numel(); ++i) fn(p[i]);
}

// fn(int64 value) for every element of a contiguous integer tensor, row-major.
template <typename F>
void for_each_integer(const Tensor& c, F&& fn) {
  switch (c.dtype()) {
    case DType::I64:
      return for_each_value<int64_t>(c, fn);
    case DType::I32:
      return for_each_value<int32_t>(c, fn);
    case DType::U8:
    case DType::Bool:
      return for_each_value<uint8_t>(c, fn);
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::I8:
    case DType::F8_E4M3:
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_Z:
    case DType::F8_B128:
    case DType::MXFP4:
    case DType::NF4:
    case DType::FP4:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::LLM_INT8:
      break;
  }
  throw ShapeError(transformers::detail::concat("expected an integer tensor, got ", c.describe()));
}

}  // namespace

void copy_(Tensor& dst, const Tensor& src) {
  const int64_t nd = dst.dim();
  const int64_t inner = nd == 0 ? 1 : dst.size(-1);
  const bool inner_contiguous = nd == 0 || (dst.stride(-1) == 1 && src.stride(-1) == 1);
  const int64_t es = static_cast<int64_t>(dst.element_size());
  char* d0 = static_cast<char*>(dst.raw_data());
  const char* s0 = static_cast<const char*>(src.raw_data());
  for_each_row(dst.shape(), dst.strides(), src.strides(), [&](int64_t d, int64_t s) {
    if (inner_contiguous) {
      std::memmove(d0 + d * es, s0 + s * es, static_cast<size_t>(inner * es));
      return;
    }
    for (int64_t i = 0; i < inner; ++i)
      std::memmove(d0 + (d + i * dst.stride(-1)) * es, s0 + (s + i * src.stride(-1)) * es,
                   static_cast<size_t>(es));
  });
}

void index_select(const Tensor& x, const Tensor& ids, Tensor& out) {
  const size_t row_bytes = x.size(0) ? x.nbytes() / static_cast<size_t>(x.size(0)) : 0;
  const int64_t* id = ids.data<int64_t>();
  for (int64_t i = 0; i < ids.size(0); ++i)
    std::memcpy(static_cast<char*>(out.raw_data()) + i * row_bytes,
                static_cast<const char*>(x.raw_data()) + id[i] * row_bytes, row_bytes);
}

void index_add_(Tensor& out, const Tensor& ids, const Tensor& src, const Tensor* weights) {
  const int64_t n = ids.numel(), row = n ? src.numel() / n : 0;
  const int64_t* id = ids.data<int64_t>();
  float* o = out.data<float>();
  const float* s = src.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    float* dst = o + id[i] * row;
    const float* from = s + i * row;
    if (weights) {
      const float w = weights->data<float>()[i];
      for (int64_t d = 0; d < row; ++d) dst[d] += w * from[d];
    } else {
      for (int64_t d = 0; d < row; ++d) dst[d] += from[d];
    }
  }
}

void fill_arange(Tensor& out, int64_t start) {
  for (int64_t i = 0; i < out.numel(); ++i) out.data<int64_t>()[i] = start + i;
}

std::pair<int64_t, int64_t> min_max(const Tensor& x) {
  std::pair<int64_t, int64_t> r{INT64_MAX, INT64_MIN};
  for_each_integer(x, [&](int64_t v) {
    r.first = std::min(r.first, v);
    r.second = std::max(r.second, v);
  });
  return r;
}

std::vector<int64_t> to_int64_vector(const Tensor& x) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(x.numel()));
  for_each_integer(x, [&](int64_t v) { out.push_back(v); });
  return out;
}

std::vector<float> to_float_vector(const Tensor& x) {
  return std::vector<float>(x.data<float>(), x.data<float>() + x.numel());
}

}  // namespace transformers::ops::cpu_impl
