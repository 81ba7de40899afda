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
  return Tensor::from_storage(Storage::allocate(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), zero, device),
                              0, shape, dtype);
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) { return allocated(shape, dtype, device, false); }
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return allocated(shape, dtype, device, true); }

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, size_t byte_offset, const Shape& shape, DType dtype) {
  Tensor t;
  size_t need = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
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
  return tracked(std::move(t), [shape](const Tensor& x) { return x.view(shape); });
}

Tensor Tensor::reshape(Shape shape) const { return is_contiguous() ? view(std::move(shape)) : contiguous().view(std::move(shape)); }

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  d0 = normalize_dim(d0);
  d1 = normalize_dim(d1);
  Tensor t = *this;
  std::swap(t.shape_[d0], t.shape_[d1]);
  std::swap(t.strides_[d0], t.strides_[d1]);
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
  t.byte_offset_ += static_cast<size_t>(start * strides_[d]) * element_size();
  t.shape_[d] = end - start;
  return tracked(std::move(t), [d, start, end](const Tensor& x) { return x.slice(d, start, end); });
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = normalize_dim(d);
  if (index < 0) index += shape_[d];
  TCPP_CHECK(index >= 0 && index < shape_[d], ShapeError, "select(): index ", index, " out of range for dim ", d,
             " of ", describe());
  Tensor t = *this;
  t.byte_offset_ += static_cast<size_t>(index * strides_[d]) * element_size();
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
  return tracked(std::move(t), [shape](const Tensor& x) { return x.expand(shape); });
}

namespace {
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
    strided_copy(static_cast<char*>(out.raw_data()), static_cast<const char*>(raw_data()), shape_, strides_, element_size());
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
  // Scatter a contiguous buffer into a strided destination, one element at a time.
  const size_t es = element_size();
  const int64_t nd = dim();
  std::vector<int64_t> idx(nd, 0);
  const char* s = static_cast<const char*>(tmp.raw_data());
  char* base = static_cast<char*>(raw_data());
  for (int64_t e = 0; e < numel(); ++e) {
    int64_t off = 0;
    for (int64_t k = 0; k < nd; ++k) off += idx[k] * strides_[k];
    std::memcpy(base + off * static_cast<int64_t>(es), s + e * static_cast<int64_t>(es), es);
    for (int64_t k = nd - 1; k >= 0; --k) {
      if (++idx[k] < shape_[k]) break;
      idx[k] = 0;
    }
  }
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  return std::string(dtype_torch_name(dtype_)) + shape_to_string(shape_);
}

}  // namespace transformers
