// Reading the key padding mask of attention on the CPU (attention_op.cpp,
// attention_weights_op.cpp).
#pragma once

#include <cmath>

#include "transformers/core/tensor.h"
#include "transformers/ops/ops.h"

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
  throw ShapeError(transformers::detail::concat("attention: key padding mask of dtype ",
                                                dtype_torch_name(mask.dtype()),
                                                " is not supported"));
}

// Scaled scores w[lo, hi) of one query row of batch row b -> the probabilities attention uses:
// keys the padding mask hides get weight 0, the others softcap (when set) then softmax. w[j]
// outside [lo, hi) is left alone. `capped`, when given, receives the softcapped scores (the
// backward's tanh slope).
template <typename SoftmaxRow>
void scores_to_probabilities(float* w, int64_t lo, int64_t hi, int64_t b, const AttentionParams& p,
                             SoftmaxRow&& softmax_row, float* capped = nullptr) {
  for (int64_t j = lo; j < hi; ++j) {
    if (p.key_padding_mask && !key_allowed(*p.key_padding_mask, b, p.key_position + j)) {
      w[j] = -INFINITY;
      continue;
    }
    if (p.softcap > 0.0f) w[j] = p.softcap * std::tanh(w[j] / p.softcap);
    if (capped) capped[j] = w[j];
  }
  if (lo < hi) softmax_row(w + lo, hi - lo);
}

}  // namespace transformers::ops::cpu_impl
