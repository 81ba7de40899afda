// The op API of copies, gathers and scatters along the first dimension, index factories, and
// reading tensors back into host values: checks, output allocation and the device switch
// (ops/cpu/indexing_op.cpp).
#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/ops.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops {

namespace {

// Bytes from the first to one past the last element of a non-empty tensor (strides are never
// negative: views only slice, select, transpose and broadcast). Addresses only: nothing is read.
std::pair<const char*, const char*> byte_span(const Tensor& t) {
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  const char* first = static_cast<const char*>(t.raw_data());
  if (is_block_dtype(t.dtype())) return {first, first + dtype_nbytes(t.dtype(), last + dtype_block_elements(t.dtype()))};
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

void require_row_ids(const Tensor& ids, int64_t rows, const char* op) {
  TCPP_CHECK(ids.dtype() == DType::I64 && ids.dim() == 1, ShapeError, op,
             ": ids must be int64 [n], got ", ids.describe());
  for (int64_t id : to_int64_vector(ids))
    TCPP_CHECK(id >= 0 && id < rows, ValueError, op, ": index ", id, " is out of range for ", rows,
               " rows");
}

// The checks of the integer readers: I64, I32, U8 or Bool, on an available device.
void require_integer(const Tensor& x, const char* op) {
  checks::require_one_device(op, {&x});
  TCPP_CHECK(x.defined() && !is_floating(x.dtype()), ShapeError, op,
             ": expected an integer tensor, got ", x.describe());
}

}  // namespace

void copy_(Tensor& dst, const Tensor& src) {
  recorded::refuse("copy_", {&dst, &src});
  TCPP_CHECK(
      dst.defined() && src.defined() && dst.shape() == src.shape() && dst.dtype() == src.dtype(),
      ShapeError, "copy_: ", src.describe(), " into ", dst.describe());
  checks::require_writable(dst, "copy_");
  checks::require_one_device("copy_", {&dst, &src});
  if (dst.numel() == 0) return;
  Tensor from = src;
  if (overlaps(dst, src) && !(dst.strides() == src.strides() && dst.raw_data() <= src.raw_data() &&
                              row_major_ordered(dst)))
    from = src.clone();
  on_device("copy_", dst.device(), [&] { cpu_impl::copy_(dst, from); });
}

Tensor index_select(const Tensor& x, const Tensor& ids) {
  if (autograd::recording({&x})) [[unlikely]] return recorded::index_select(x, ids);
  TCPP_CHECK(x.defined() && x.dim() >= 1, ShapeError,
             "index_select: expected a tensor of rank >= 1, got ", x.describe());
  checks::require_one_device("index_select", {&x, &ids});
  require_row_ids(ids, x.size(0), "index_select");
  Tensor xc = x.contiguous(), idc = ids.contiguous();
  Shape shape = x.shape();
  shape[0] = ids.size(0);
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  on_device("index_select", x.device(), [&] { cpu_impl::index_select(xc, idc, out); });
  return out;
}

void index_add_(Tensor& out, const Tensor& ids, const Tensor& src, const Tensor* weights) {
  if (autograd::recording({&out, &src, weights})) [[unlikely]] return recorded::index_add_(out, ids, src, weights);
  checks::require_f32(out, "index_add_");
  checks::require_f32(src, "index_add_");
  checks::require_writable(out, "index_add_");
  TCPP_CHECK(
      out.dim() >= 1 && out.is_contiguous() && src.dim() == out.dim() && src.size(0) == ids.numel(),
      ShapeError, "index_add_: ", src.describe(), " at ", ids.describe(), " into ", out.describe());
  for (int64_t d = 1; d < out.dim(); ++d)
    TCPP_CHECK(src.size(d) == out.size(d), ShapeError, "index_add_: ", src.describe(), " into ",
               out.describe());
  checks::require_one_device("index_add_", {&out, &ids, &src, weights});
  require_row_ids(ids, out.size(0), "index_add_");
  if (weights)
    TCPP_CHECK(weights->dtype() == DType::F32 && weights->numel() == ids.numel(), ShapeError,
               "index_add_: weights ", weights->describe(), " for ", ids.describe());
  Tensor sc = src.contiguous(), idc = ids.contiguous(),
         wc = weights ? weights->contiguous() : Tensor();
  on_device("index_add_", out.device(),
            [&] { cpu_impl::index_add_(out, idc, sc, weights ? &wc : nullptr); });
}

Tensor arange(int64_t start, int64_t end) {
  TCPP_CHECK(end >= start, ValueError, "arange: end ", end, " is before start ", start);
  Tensor out = Tensor::empty({end - start}, DType::I64);
  on_device("arange", out.device(), [&] { cpu_impl::fill_arange(out, start); });
  return out;
}

Tensor position_ids(int64_t batch, int64_t length, int64_t start) {
  TCPP_CHECK(batch >= 0 && length >= 0, ShapeError, "position_ids: batch ", batch, ", length ",
             length);
  return arange(start, start + length).expand({batch, length}).contiguous();
}

std::pair<int64_t, int64_t> min_max(const Tensor& x) {
  TCPP_CHECK(x.defined() && x.numel() > 0, ValueError, "min_max: empty tensor ", x.describe());
  require_integer(x, "min_max");
  Tensor c = x.contiguous();
  return on_device("min_max", x.device(), [&] { return cpu_impl::min_max(c); });
}

std::vector<int64_t> to_int64_vector(const Tensor& x) {
  require_integer(x, "to_int64_vector");
  Tensor c = x.contiguous();
  return on_device("to_int64_vector", x.device(), [&] { return cpu_impl::to_int64_vector(c); });
}

std::vector<float> to_float_vector(const Tensor& x) {
  checks::require_f32(x, "to_float_vector");
  Tensor c = x.contiguous();
  return on_device("to_float_vector", x.device(), [&] { return cpu_impl::to_float_vector(c); });
}

}  // namespace transformers::ops
