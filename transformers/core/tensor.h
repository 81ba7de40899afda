// Tensor: a typed, strided view of a Storage. Views (reshape of contiguous data, transpose,
// permute, slice, select) share the storage and copy nothing. Arithmetic lives in ops/, which
// dispatches on the device; this class only describes memory.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transformers/core/dtype.h"
#include "transformers/core/error.h"
#include "transformers/core/half.h"
#include "transformers/core/storage.h"

namespace transformers {

namespace autograd {
struct Meta;
}

using Shape = std::vector<int64_t>;

std::string shape_to_string(const Shape& shape);
int64_t shape_numel(const Shape& shape);

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::I64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::U8; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::I8; };

// Block dtypes (Q8_0, Q4_0: dtype.h) keep the shape of their elements with strides counted in
// elements, but their last dimension must be a whole number of blocks and stay the contiguous
// innermost one: views along rows (slice, select, view, reshape of the outer dimensions) work;
// element access, a block-splitting slice, or moving the last dimension throws ShapeError.
class Tensor {
 public:
  Tensor() = default;

  // Uninitialised / zero-filled tensors on `device` (NotImplementedError naming any device but
  // the CPU).
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::CPU);
  // A contiguous tensor over `storage` starting at `byte_offset`.
  static Tensor from_storage(std::shared_ptr<Storage> storage, size_t byte_offset, const Shape& shape, DType dtype);
  // Copies `values` into a new tensor of `shape` (its numel must equal values.size()).
  template <typename T>
  static Tensor from_values(std::span<const T> values, const Shape& shape) {
    Tensor t = empty(shape, DTypeOf<T>::value);
    TCPP_CHECK(static_cast<int64_t>(values.size()) == t.numel(), ShapeError, "from_values: ", values.size(),
               " values for shape ", shape_to_string(shape));
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }
  template <typename T>
  static Tensor from_values(const std::vector<T>& values, const Shape& shape) {
    return from_values(std::span<const T>(values), shape);
  }

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::CPU; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const { return shape_[normalize_dim(d)]; }
  int64_t stride(int64_t d) const { return strides_[normalize_dim(d)]; }
  int64_t numel() const { return shape_numel(shape_); }
  // Bytes per element; ValueError for a block dtype (Q8_0, Q4_0), whose elements have no address.
  size_t element_size() const { return dtype_size(dtype_); }
  size_t nbytes() const { return dtype_nbytes(dtype_, numel()); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  size_t byte_offset() const { return byte_offset_; }

  void* raw_data() const { return static_cast<char*>(storage_->data()) + byte_offset_; }
  template <typename T>
  T* data() const {
    TCPP_CHECK(defined(), ValueError, "data(): undefined tensor");
    TCPP_CHECK(DTypeOf<T>::value == dtype_, ShapeError, "data(): tensor is ", dtype_torch_name(dtype_),
               ", accessed as ", dtype_torch_name(DTypeOf<T>::value));
    return static_cast<T*>(raw_data());
  }
  // 16-bit element access for bf16/f16 tensors.
  uint16_t* data_u16() const {
    TCPP_CHECK(dtype_size(dtype_) == 2, ShapeError, "data_u16(): tensor is ", dtype_torch_name(dtype_));
    return static_cast<uint16_t*>(raw_data());
  }

  // Views: share storage, copy nothing.
  Tensor view(Shape shape) const;  // requires contiguous; one dimension may be -1
  Tensor reshape(Shape shape) const;  // view when contiguous, else a contiguous copy
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end) const;
  Tensor select(int64_t dim, int64_t index) const;  // drops `dim`
  Tensor unsqueeze(int64_t dim) const;
  // Broadcast view to `shape` (torch's expand): dimensions of size 1 (and new leading ones) repeat
  // with stride 0; the others must match. Not contiguous; contiguous() materialises it.
  Tensor expand(const Shape& shape) const;

  // Copies.
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;
  // Copies src's elements into this tensor (same shape and dtype; any strides).
  void copy_from(const Tensor& src);

  std::string describe() const;  // e.g. "float32[2, 10, 64]"

  // Autograd (core/autograd.h): null unless this tensor needs a gradient.
  const std::shared_ptr<autograd::Meta>& autograd() const { return autograd_; }
  void set_autograd(std::shared_ptr<autograd::Meta> meta) { autograd_ = std::move(meta); }
  // The same view without autograd state (what a backward saves).
  Tensor detach() const {
    Tensor t = *this;
    t.autograd_.reset();
    return t;
  }

 private:
  int64_t normalize_dim(int64_t d) const;
  // Byte offset of an element offset; for a block dtype it must fall on a block boundary.
  size_t offset_bytes(int64_t elements) const;
  // For block dtypes: the last dimension has unit stride and whole blocks (ShapeError otherwise).
  void check_blocks(const char* what) const;
  // `t`, a view (or copy) of this tensor made by `apply`, with a view Node when this tensor
  // needs a gradient (defined in tensor.cpp, used only there).
  template <typename Apply>
  Tensor tracked(Tensor t, Apply&& apply) const;
  std::shared_ptr<autograd::Meta> autograd_;
  std::shared_ptr<Storage> storage_;
  size_t byte_offset_ = 0;
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::F32;
};

Shape contiguous_strides(const Shape& shape);

}  // namespace transformers
