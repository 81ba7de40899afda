#include "transformers/core/dtype.h"

#include "transformers/core/error.h"

namespace transformers {

size_t dtype_size(DType dt) {
  switch (dt) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::I64: return 8;
    case DType::U8: case DType::Bool: return 1;
  }
  return 0;
}

bool is_floating(DType dt) { return dt == DType::F32 || dt == DType::F16 || dt == DType::BF16; }

std::string_view dtype_safetensors_name(DType dt) {
  switch (dt) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

DType dtype_from_safetensors_name(std::string_view name, const std::string& where) {
  if (name == "F32") return DType::F32;
  if (name == "F16") return DType::F16;
  if (name == "BF16") return DType::BF16;
  if (name == "I32") return DType::I32;
  if (name == "I64") return DType::I64;
  if (name == "U8") return DType::U8;
  if (name == "BOOL") return DType::Bool;
  throw FormatError(detail::concat(where, ": unsupported dtype '", name, "'"));
}

std::string_view dtype_torch_name(DType dt) {
  switch (dt) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    case DType::I32: return "int32";
    case DType::I64: return "int64";
    case DType::U8: return "uint8";
    case DType::Bool: return "bool";
  }
  return "?";
}

DType dtype_from_name(std::string_view name, const std::string& where) {
  if (name.starts_with("torch.")) name.remove_prefix(6);
  if (name == "float32" || name == "f32" || name == "fp32" || name == "float") return DType::F32;
  if (name == "bfloat16" || name == "bf16") return DType::BF16;
  if (name == "float16" || name == "f16" || name == "fp16" || name == "half") return DType::F16;
  if (name == "int32") return DType::I32;
  if (name == "int64") return DType::I64;
  throw ValueError(detail::concat(where, ": unknown dtype '", name, "' (use float32, bfloat16 or float16)"));
}

}  // namespace transformers
