#include "transformers/core/tensor.h"

#include "transformers/core/autograd.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <sstream>

namespace transformers {

std::string shape_to_string(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

namespace {
Tensor allocated(const Shape& shape, DType dtype, Device device, bool zero) {
  for (int64_t s : shape) TCPP_CHECK(s >= 0, ShapeError, "negative dimension in shape ", shape_to_string(shape));
  return Tensor::from_storage(Storage::allocate(dtype_nbytes(dtype, shape_numel(shape)), zero, device), 0, shape, dtype);
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) { return allocated(shape, dtype, device, false); }
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return allocated(shape, dtype, device, true); }

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, size_t byte_offset, const Shape& shape, DType dtype) {
  Tensor t;
  TCPP_CHECK(!is_block_dtype(dtype) || (!shape.empty() && shape.back() % dtype_block_elements(dtype) == 0), ShapeError,
             "tensor ", shape_to_string(shape), " of ", dtype_torch_name(dtype), ": the last dimension must be a multiple of ",
             dtype_block_elements(dtype));
  size_t need = dtype_nbytes(dtype, shape_numel(shape));
  TCPP_CHECK(byte_offset + need <= storage->nbytes(), ShapeError, "tensor ", shape_to_string(shape), " of ",
             dtype_torch_name(dtype), " needs ", need, " bytes at offset ", byte_offset, ", storage has ",
             storage->nbytes());
  t.storage_ = std::move(storage);
  t.byte_offset_ = byte_offset;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

int64_t Tensor::normalize_dim(int64_t d) const {
  int64_t n = dim();
  if (d < 0) d += n;
  TCPP_CHECK(d >= 0 && d < n, ShapeError, "dimension ", d, " out of range for ", describe());
  return d;
}

size_t Tensor::offset_bytes(int64_t elements) const {
  if (!is_block_dtype(dtype_)) return static_cast<size_t>(elements) * dtype_size(dtype_);
  TCPP_CHECK(elements % dtype_block_elements(dtype_) == 0, ShapeError, describe(), ": offset of ", elements,
             " elements splits a block of ", dtype_block_elements(dtype_));
  return dtype_nbytes(dtype_, elements);
}

void Tensor::check_blocks(const char* what) const {
  if (!is_block_dtype(dtype_)) return;
  TCPP_CHECK(!shape_.empty() && shape_.back() % dtype_block_elements(dtype_) == 0 &&
                 (strides_.back() == 1 || shape_.back() == 0),
             ShapeError, what, ": ", describe(), " of a block dtype needs its last dimension contiguous and a multiple of ",
             dtype_block_elements(dtype_));
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

template <typename Apply>
Tensor Tensor::tracked(Tensor t, Apply&& apply) const {
  if (autograd_) [[unlikely]]
    t.autograd_ = autograd::view_meta(*this, t, std::forward<Apply>(apply));
  return t;
}

Tensor Tensor::view(Shape shape) const {
  TCPP_CHECK(is_contiguous(), ShapeError, "view() of a non-contiguous tensor ", describe());
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      TCPP_CHECK(infer < 0, ShapeError, "view(): more than one -1 in ", shape_to_string(shape));
      infer = static_cast<int64_t>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    TCPP_CHECK(known > 0 && numel() % known == 0, ShapeError, "view(): cannot view ", describe(), " as ",
               shape_to_string(shape));
    shape[infer] = numel() / known;
  }
  TCPP_CHECK(shape_numel(shape) == numel(), ShapeError, "view(): cannot view ", describe(), " as ",
             shape_to_string(shape));
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(t.shape_);
  t.check_blocks("view()");
  return tracked(std::move(t), [shape](const Tensor& x) { return x.view(shape); });
}

Tensor Tensor::reshape(Shape shape) const { return is_contiguous() ? view(std::move(shape)) : contiguous().view(std::move(shape)); }

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  d0 = normalize_dim(d0);
  d1 = normalize_dim(d1);
  Tensor t = *this;
  std::swap(t.shape_[d0], t.shape_[d1]);
  std::swap(t.strides_[d0], t.strides_[d1]);
  if (d0 != d1) t.check_blocks("transpose()");
  return tracked(std::move(t), [d0, d1](const Tensor& x) { return x.transpose(d0, d1); });
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  TCPP_CHECK(static_cast<int64_t>(dims.size()) == dim(), ShapeError, "permute(): ", dims.size(), " dims for ", describe());
  Tensor t = *this;
  std::vector<bool> used(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = normalize_dim(dims[i]);
    TCPP_CHECK(!used[d], ShapeError, "permute(): repeated dimension ", d);
    used[d] = true;
    t.shape_[i] = shape_[d];
    t.strides_[i] = strides_[d];
  }
  t.check_blocks("permute()");
  return tracked(std::move(t), [dims](const Tensor& x) { return x.permute(dims); });
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end) const {
  d = normalize_dim(d);
  int64_t n = shape_[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Tensor t = *this;
  t.byte_offset_ += offset_bytes(start * strides_[d]);
  t.shape_[d] = end - start;
  t.check_blocks("slice()");
  return tracked(std::move(t), [d, start, end](const Tensor& x) { return x.slice(d, start, end); });
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = normalize_dim(d);
  if (index < 0) index += shape_[d];
  TCPP_CHECK(index >= 0 && index < shape_[d], ShapeError, "select(): index ", index, " out of range for dim ", d,
             " of ", describe());
  TCPP_CHECK(!is_block_dtype(dtype_) || d + 1 < dim(), ShapeError, "select(): element ", index, " of ", describe(),
             ": elements of a block dtype have no address");
  Tensor t = *this;
  t.byte_offset_ += offset_bytes(index * strides_[d]);
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return tracked(std::move(t), [d, index](const Tensor& x) { return x.select(d, index); });
}

Tensor Tensor::unsqueeze(int64_t d) const {
  if (d < 0) d += dim() + 1;
  TCPP_CHECK(d >= 0 && d <= dim(), ShapeError, "unsqueeze(): dimension ", d, " out of range for ", describe());
  Tensor t = *this;
  int64_t stride = d < dim() ? strides_[d] * shape_[d] : 1;
  t.shape_.insert(t.shape_.begin() + d, 1);
  t.strides_.insert(t.strides_.begin() + d, stride);
  return tracked(std::move(t), [d](const Tensor& x) { return x.unsqueeze(d); });
}

Tensor Tensor::expand(const Shape& shape) const {
  const int64_t lead = static_cast<int64_t>(shape.size()) - dim();
  TCPP_CHECK(lead >= 0, ShapeError, "expand(): cannot expand ", describe(), " to ", shape_to_string(shape));
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_.assign(shape.size(), 0);
  for (int64_t d = 0; d < dim(); ++d) {
    const int64_t to = shape[lead + d];
    TCPP_CHECK(shape_[d] == to || shape_[d] == 1, ShapeError, "expand(): cannot expand ", describe(), " to ",
               shape_to_string(shape));
    t.strides_[lead + d] = shape_[d] == to ? strides_[d] : 0;
  }
  t.check_blocks("expand()");
  return tracked(std::move(t), [shape](const Tensor& x) { return x.expand(shape); });
}

namespace {
// The copy unit of a tensor: one element, or for a block dtype one block (the last dimension
// counted in blocks, the other strides divided by the block: check_blocks keeps them whole rows).
struct CopyUnits {
  Shape shape, strides;
  size_t bytes;
};
CopyUnits copy_units(const Shape& shape, const Shape& strides, DType dt) {
  if (!is_block_dtype(dt)) return {shape, strides, dtype_size(dt)};
  const int64_t b = dtype_block_elements(dt);
  CopyUnits u{shape, strides, static_cast<size_t>(dtype_block_bytes(dt))};
  for (auto& s : u.strides) s /= b;
  if (!u.shape.empty()) {
    u.shape.back() /= b;
    u.strides.back() = 1;
  }
  return u;
}

// Copies a strided source into a contiguous destination, element size `es`, innermost dimension
// copied with memcpy when it is contiguous.
void strided_copy(char* dst, const char* src, const Shape& shape, const Shape& src_strides, size_t es) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (nd == 0) {
    std::memcpy(dst, src, es);
    return;
  }
  const int64_t inner = shape[nd - 1];
  const int64_t inner_stride = src_strides[nd - 1];
  const int64_t outer = shape_numel(shape) / std::max<int64_t>(inner, 1);
  std::vector<int64_t> idx(nd - 1, 0);
  for (int64_t o = 0; o < outer; ++o) {
    int64_t off = 0;
    for (int64_t k = 0; k < nd - 1; ++k) off += idx[k] * src_strides[k];
    const char* s = src + off * static_cast<int64_t>(es);
    if (inner_stride == 1) {
      std::memcpy(dst, s, inner * es);
    } else {
      for (int64_t i = 0; i < inner; ++i) std::memcpy(dst + i * es, s + i * inner_stride * static_cast<int64_t>(es), es);
    }
    dst += inner * es;
    for (int64_t k = nd - 2; k >= 0; --k) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
}
}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_, device());
  if (numel() == 0) return out;
  if (is_contiguous()) {
    std::memcpy(out.raw_data(), raw_data(), nbytes());
  } else {
    const CopyUnits u = copy_units(shape_, strides_, dtype_);
    strided_copy(static_cast<char*>(out.raw_data()), static_cast<const char*>(raw_data()), u.shape, u.strides, u.bytes);
  }
  return tracked(std::move(out), [](const Tensor& x) { return x; });
}

void Tensor::copy_from(const Tensor& src) {
  TCPP_CHECK(src.shape_ == shape_ && src.dtype_ == dtype_, ShapeError, "copy_from(): ", src.describe(), " into ",
             describe());
  TCPP_CHECK(storage_->writable(), ValueError, "copy_from(): destination is read-only (mapped)");
  if (numel() == 0) return;
  if (is_contiguous() && src.is_contiguous()) {
    std::memcpy(raw_data(), src.raw_data(), nbytes());
    return;
  }
  Tensor tmp = src.contiguous();
  if (is_contiguous()) {
    std::memcpy(raw_data(), tmp.raw_data(), nbytes());
    return;
  }
  // Scatter a contiguous buffer into a strided destination, one element (or block) at a time.
  const CopyUnits u = copy_units(shape_, strides_, dtype_);
  const size_t es = u.bytes;
  const int64_t nd = dim();
  std::vector<int64_t> idx(nd, 0);
  const char* s = static_cast<const char*>(tmp.raw_data());
  char* base = static_cast<char*>(raw_data());
  for (int64_t e = 0; e < shape_numel(u.shape); ++e) {
    int64_t off = 0;
    for (int64_t k = 0; k < nd; ++k) off += idx[k] * u.strides[k];
    std::memcpy(base + off * static_cast<int64_t>(es), s + e * static_cast<int64_t>(es), es);
    for (int64_t k = nd - 1; k >= 0; --k) {
      if (++idx[k] < u.shape[k]) break;
      idx[k] = 0;
    }
  }
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  return std::string(dtype_torch_name(dtype_)) + shape_to_string(shape_);
}

}  // namespace transformers
