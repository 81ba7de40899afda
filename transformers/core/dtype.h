// Element types of tensors, with the names used by safetensors and by Transformers' `dtype`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace transformers {

enum class DType : uint8_t { F32, F16, BF16, I32, I64, U8, Bool };

size_t dtype_size(DType dt);
bool is_floating(DType dt);

// "F32", "BF16", ... as in safetensors headers.
std::string_view dtype_safetensors_name(DType dt);
// Throws FormatError for names we do not support (F64, F8_E4M3, ...), naming `where`.
DType dtype_from_safetensors_name(std::string_view name, const std::string& where);

// "float32", "bfloat16", ... as in config.json's torch_dtype / dtype.
std::string_view dtype_torch_name(DType dt);
// Accepts "float32"/"f32"/"fp32", "bfloat16"/"bf16", "float16"/"f16"/"fp16"/"half", "torch.float32".
// Throws ValueError naming `where`.
DType dtype_from_name(std::string_view name, const std::string& where);

}  // namespace transformers
