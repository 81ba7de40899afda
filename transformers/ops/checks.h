// Input checks shared by the op implementations (not part of the op API): each names the op and
// the tensors, so a caller's mistake reads as a ShapeError about that op.
#pragma once

#include <initializer_list>

#include "transformers/core/tensor.h"

namespace transformers::ops::checks {

// All defined inputs of an op on one device, and a backend for that device in this build (the CPU
// only): ShapeError naming the op and both devices when they differ, NotImplementedError otherwise.
inline void require_one_device(const char* op, std::initializer_list<const Tensor*> inputs) {
  const Tensor* first = nullptr;
  for (const Tensor* t : inputs) {
    if (!t || !t->defined()) continue;
    if (!first) first = t;
    TCPP_CHECK(t->device() == first->device(), ShapeError, op, ": inputs on different devices (",
               device_name(first->device()), " and ", device_name(t->device()), ")");
  }
  if (first) require_available(first->device(), op);
}

inline void require_f32(const Tensor& t, const char* op) {
  TCPP_CHECK(t.defined() && t.dtype() == DType::F32, ShapeError, op,
             ": expected a float32 tensor, got ", t.describe());
  require_available(t.device(), op);
}

inline void require_writable(const Tensor& t, const char* op) {
  TCPP_CHECK(t.defined() && t.storage()->writable(), ValueError, op, ": tensor ", t.describe(),
             " is read-only (mapped from a file)");
}

// A key padding mask (nonzero = attend) is one of the integer or bool dtypes; a float mask is a
// ShapeError naming its dtype (its bytes would read as garbage flags).
inline void require_mask_dtype(const Tensor& mask, const char* op) {
  switch (mask.dtype()) {
    case DType::I64:
    case DType::I32:
    case DType::U8:
    case DType::Bool:
      return;
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
  throw ShapeError(transformers::detail::concat(op, ": key padding mask of dtype ",
                                                dtype_torch_name(mask.dtype()),
                                                " is not supported (int64, int32, uint8 or bool)"));
}

// The key padding mask of attention over `keys` cache positions: [B, >= keys], contiguous.
inline void require_key_padding_mask(const Tensor& mask, int64_t batch, int64_t keys,
                                     const char* op) {
  require_mask_dtype(mask, op);
  TCPP_CHECK(
      mask.dim() == 2 && mask.size(0) == batch && mask.size(1) >= keys && mask.is_contiguous(),
      ShapeError, op, ": key padding mask ", mask.describe(), " does not cover ", keys, " keys of ",
      batch, " rows");
}

}  // namespace transformers::ops::checks
