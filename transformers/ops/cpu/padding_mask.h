// Reading the key padding mask of attention on the CPU (attention_op.cpp,
// attention_weights_op.cpp).
#pragma once

#include "transformers/core/tensor.h"

namespace transformers::ops::cpu_impl {

// Whether key `col` (a cache position) may be attended by batch row b: mask [B, >= col] nonzero.
// The op API lets only integer and bool masks through (checks::require_mask_dtype); the switch is
// exhaustive so that a dtype added later is a compiler warning here, and a float mask an error.
inline bool key_allowed(const Tensor& mask, int64_t b, int64_t col) {
  const int64_t idx = b * mask.size(1) + col;
  switch (mask.dtype()) {
    case DType::I64:
      return mask.data<int64_t>()[idx] != 0;
    case DType::I32:
      return mask.data<int32_t>()[idx] != 0;
    case DType::U8:
    case DType::Bool:
      return static_cast<const uint8_t*>(mask.raw_data())[idx] != 0;
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::I8:
    case DType::F8_E4M3:
    case DType::Q8_0:
    case DType::Q4_0:
      break;
  }
  throw ShapeError(transformers::detail::concat("attention: key padding mask of dtype ",
                                                dtype_torch_name(mask.dtype()),
                                                " is not supported"));
}

}  // namespace transformers::ops::cpu_impl
