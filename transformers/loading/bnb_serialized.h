// bitsandbytes' serialized layout: what Transformers' save_pretrained writes for a model loaded
// with a BitsAndBytesConfig, read by repacking into our block dtypes (no dequantization) and
// written back from them.
//
// 4-bit (Params4bit, QuantState.as_dict(packed=True)), per quantized Linear W:
//   W.weight                                  uint8 [N * K / 2, 1]: nibbles, element 2j high
//   W.weight.absmax                           f32 [N * K / 64]   (uint8 code indices when nested)
//   W.weight.quant_map                        f32 [16]: the code book
//   W.weight.nested_absmax                    f32 [ceil(blocks / 256)]       (double quant only)
//   W.weight.nested_quant_map                 f32 [256]: the dynamic code    (double quant only)
//   W.weight.quant_state.bitsandbytes__nf4    uint8: JSON {quant_type, blocksize, dtype, shape
//                                             [, nested_blocksize, nested_dtype, nested_offset]}
// 8-bit (Int8Params, Linear8bitLt): W.weight int8 [N, K] (CB), W.SCB f32 [N], and W.weight_format
// (uint8 0 = row-major; written by bitsandbytes for older readers).
//
// Loading needs blocksize 64 and K a multiple of 64 (a block inside one row). A double-quantized
// absmax is dequantized at load, as bitsandbytes dequantizes it (ops/cpu/bnb_blocks.h), into the
// f32 absmax of our blocks; saving writes the f32 absmax (Transformers reads a file without the
// nested tensors as it reads any other: QuantState.from_dict looks per tensor), so a
// save -> load round trip gives the same bytes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "transformers/core/tensor.h"
#include "transformers/loading/weight_transform.h"

namespace transformers::loading {

// The key ending that marks a bitsandbytes-quantized module (4-bit: the quant_state tensor, 8-bit:
// SCB).
std::string bnb_marker(bool eight_bit);
// One converter per quantized module among `keys` (its sources spelled out, nested ones where the
// file has them) into NF4 / FP4 / LLM_INT8 blocks; `int8_threshold` is stored in LLM_INT8 blocks.
std::vector<WeightTransform> bnb_rules(bool eight_bit, float int8_threshold, const std::vector<std::string>& keys);

// The tensors bitsandbytes stores for the weight `name` (ending ".weight") held as NF4, FP4 or
// LLM_INT8; `dtype_name` is the quant_state's dtype ("float32", ...).
std::vector<std::pair<std::string, Tensor>> bnb_serialized_tensors(const std::string& name, const Tensor& weight,
                                                                   const std::string& dtype_name);

}  // namespace transformers::loading
