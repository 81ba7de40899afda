// Copies, gathers and scatters along the first dimension, index factories, and reading tensors
// back into host values: the tensor-memory work that models and caches used to do by hand.
#include <algorithm>
#include <cstring>

#include "transformers/ops/checks.h"
#include "transformers/ops/ops.h"

namespace transformers::ops {

namespace {

// Bytes from the first to one past the last element of a non-empty tensor (strides are never
// negative: views only slice, select, transpose and broadcast).
std::pair<const char*, const char*> byte_span(const Tensor& t) {
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  const char* first = static_cast<const char*>(t.raw_data());
  return {first, first + (last + 1) * static_cast<int64_t>(t.element_size())};
}

bool overlaps(const Tensor& a, const Tensor& b) {
  if (a.storage() != b.storage()) return false;
  auto [a0, a1] = byte_span(a);
  auto [b0, b1] = byte_span(b);
  return a0 < b1 && b0 < a1;
}

// Offsets grow with the row-major index: every stride exceeds the reach of the dimensions inside
// it. Then a copy in index order never overwrites a source element it has yet to read, provided
// the destination starts no later than the source and both have the same strides.
bool row_major_ordered(const Tensor& t) {
  int64_t reach = 0;
  for (int64_t d = t.dim(); d-- > 0;) {
    if (t.size(d) == 1) continue;
    if (t.stride(d) <= reach) return false;
    reach += (t.size(d) - 1) * t.stride(d);
  }
  return true;
}

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

}  // namespace

void copy_(Tensor& dst, const Tensor& src) {
  TCPP_CHECK(dst.defined() && src.defined() && dst.shape() == src.shape() && dst.dtype() == src.dtype(), ShapeError,
             "copy_: ", src.describe(), " into ", dst.describe());
  checks::require_writable(dst, "copy_");
  checks::require_one_device("copy_", {&dst, &src});
  if (dst.numel() == 0) return;
  Tensor from = src;
  if (overlaps(dst, src) &&
      !(dst.strides() == src.strides() && dst.raw_data() <= src.raw_data() && row_major_ordered(dst)))
    from = src.clone();
  const int64_t nd = dst.dim();
  const int64_t inner = nd == 0 ? 1 : dst.size(-1);
  const bool inner_contiguous = nd == 0 || (dst.stride(-1) == 1 && from.stride(-1) == 1);
  const int64_t es = static_cast<int64_t>(dst.element_size());
  char* d0 = static_cast<char*>(dst.raw_data());
  const char* s0 = static_cast<const char*>(from.raw_data());
  for_each_row(dst.shape(), dst.strides(), from.strides(), [&](int64_t d, int64_t s) {
    if (inner_contiguous) {
      std::memmove(d0 + d * es, s0 + s * es, static_cast<size_t>(inner * es));
      return;
    }
    for (int64_t i = 0; i < inner; ++i)
      std::memmove(d0 + (d + i * dst.stride(-1)) * es, s0 + (s + i * from.stride(-1)) * es, static_cast<size_t>(es));
  });
}

namespace {
void require_row_ids(const Tensor& ids, int64_t rows, const char* op) {
  TCPP_CHECK(ids.dtype() == DType::I64 && ids.dim() == 1, ShapeError, op, ": ids must be int64 [n], got ",
             ids.describe());
  for (int64_t id : to_int64_vector(ids))
    TCPP_CHECK(id >= 0 && id < rows, ValueError, op, ": index ", id, " is out of range for ", rows, " rows");
}
}  // namespace

Tensor index_select(const Tensor& x, const Tensor& ids) {
  TCPP_CHECK(x.defined() && x.dim() >= 1, ShapeError, "index_select: expected a tensor of rank >= 1, got ", x.describe());
  checks::require_one_device("index_select", {&x, &ids});
  require_row_ids(ids, x.size(0), "index_select");
  Tensor xc = x.contiguous(), idc = ids.contiguous();
  Shape shape = x.shape();
  shape[0] = ids.size(0);
  Tensor out = Tensor::empty(shape, x.dtype());
  const size_t row_bytes = x.size(0) ? x.nbytes() / static_cast<size_t>(x.size(0)) : 0;
  const int64_t* id = idc.data<int64_t>();
  for (int64_t i = 0; i < ids.size(0); ++i)
    std::memcpy(static_cast<char*>(out.raw_data()) + i * row_bytes, static_cast<const char*>(xc.raw_data()) + id[i] * row_bytes,
                row_bytes);
  return out;
}

void index_add_(Tensor& out, const Tensor& ids, const Tensor& src, const Tensor* weights) {
  checks::require_f32(out, "index_add_");
  checks::require_f32(src, "index_add_");
  checks::require_writable(out, "index_add_");
  TCPP_CHECK(out.dim() >= 1 && out.is_contiguous() && src.dim() == out.dim() && src.size(0) == ids.numel(), ShapeError,
             "index_add_: ", src.describe(), " at ", ids.describe(), " into ", out.describe());
  for (int64_t d = 1; d < out.dim(); ++d)
    TCPP_CHECK(src.size(d) == out.size(d), ShapeError, "index_add_: ", src.describe(), " into ", out.describe());
  checks::require_one_device("index_add_", {&out, &ids, &src, weights});
  require_row_ids(ids, out.size(0), "index_add_");
  if (weights)
    TCPP_CHECK(weights->dtype() == DType::F32 && weights->numel() == ids.numel(), ShapeError, "index_add_: weights ",
               weights->describe(), " for ", ids.describe());
  Tensor sc = src.contiguous(), idc = ids.contiguous(), wc = weights ? weights->contiguous() : Tensor();
  const int64_t n = ids.numel(), row = n ? sc.numel() / n : 0;
  const int64_t* id = idc.data<int64_t>();
  float* o = out.data<float>();
  const float* s = sc.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    float* dst = o + id[i] * row;
    const float* from = s + i * row;
    if (weights) {
      const float w = wc.data<float>()[i];
      for (int64_t d = 0; d < row; ++d) dst[d] += w * from[d];
    } else {
      for (int64_t d = 0; d < row; ++d) dst[d] += from[d];
    }
  }
}

Tensor arange(int64_t start, int64_t end) {
  TCPP_CHECK(end >= start, ValueError, "arange: end ", end, " is before start ", start);
  Tensor out = Tensor::empty({end - start}, DType::I64);
  for (int64_t i = 0; i < end - start; ++i) out.data<int64_t>()[i] = start + i;
  return out;
}

Tensor position_ids(int64_t batch, int64_t length, int64_t start) {
  TCPP_CHECK(batch >= 0 && length >= 0, ShapeError, "position_ids: batch ", batch, ", length ", length);
  return arange(start, start + length).expand({batch, length}).contiguous();
}

namespace {
template <typename T, typename F>
void for_each_value(const Tensor& c, F&& fn) {
  const T* p = static_cast<const T*>(c.raw_data());
  for (int64_t i = 0; i < c.numel(); ++i) fn(p[i]);
}

// fn(int64 value) for every element of an integer tensor, row-major.
template <typename F>
void for_each_integer(const Tensor& x, const char* op, F&& fn) {
  checks::require_one_device(op, {&x});
  Tensor c = x.contiguous();
  switch (c.dtype()) {
    case DType::I64: return for_each_value<int64_t>(c, fn);
    case DType::I32: return for_each_value<int32_t>(c, fn);
    case DType::U8:
    case DType::Bool: return for_each_value<uint8_t>(c, fn);
    case DType::F32:
    case DType::F16:
    case DType::BF16: break;
  }
  throw ShapeError(transformers::detail::concat(op, ": expected an integer tensor, got ", x.describe()));
}
}  // namespace

std::pair<int64_t, int64_t> min_max(const Tensor& x) {
  TCPP_CHECK(x.defined() && x.numel() > 0, ValueError, "min_max: empty tensor ", x.describe());
  std::pair<int64_t, int64_t> r{INT64_MAX, INT64_MIN};
  for_each_integer(x, "min_max", [&](int64_t v) {
    r.first = std::min(r.first, v);
    r.second = std::max(r.second, v);
  });
  return r;
}

std::vector<int64_t> to_int64_vector(const Tensor& x) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(x.numel()));
  for_each_integer(x, "to_int64_vector", [&](int64_t v) { out.push_back(v); });
  return out;
}

std::vector<float> to_float_vector(const Tensor& x) {
  checks::require_f32(x, "to_float_vector");
  Tensor c = x.contiguous();
  return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
}

}  // namespace transformers::ops
