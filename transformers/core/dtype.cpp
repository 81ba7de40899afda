#include "transformers/core/dtype.h"

#include "transformers/core/error.h"

namespace transformers {

namespace {
struct DTypeInfo {
  const char* safetensors;
  const char* torch;
  int64_t block_elements;
  int64_t block_bytes;
};
// In DType order.
constexpr DTypeInfo kInfo[] = {
    {"F32", "float32", 1, 4},   {"F16", "float16", 1, 2},  {"BF16", "bfloat16", 1, 2},
    {"I32", "int32", 1, 4},     {"I64", "int64", 1, 8},    {"U8", "uint8", 1, 1},
    {"BOOL", "bool", 1, 1},     {"I8", "int8", 1, 1},      {"F8_E4M3", "float8_e4m3fn", 1, 1},
    {"Q8_0", "q8_0", 32, 34},   {"Q4_0", "q4_0", 32, 18},
    {"Q4_Z", "q4_z", 32, 20},   {"F8_B128", "f8_e4m3_b128", 128, 132}, {"MXFP4", "mxfp4", 32, 17},
    {"NF4", "nf4", 64, 36},     {"FP4", "fp4", 64, 36},  // bitsandbytes 4-bit
    {"Q4_K", "q4_k", 256, 144}, {"Q5_K", "q5_k", 256, 176}, {"Q6_K", "q6_k", 256, 210},
    {"LLM_INT8", "llm_int8", 64, 72},  // bitsandbytes 8-bit
    {"Q5_0", "q5_0", 32, 22},   {"Q5_1", "q5_1", 32, 24},
};
static_assert(sizeof(kInfo) / sizeof(kInfo[0]) == static_cast<size_t>(DType::Q5_1) + 1);
const DTypeInfo& info(DType dt) { return kInfo[static_cast<size_t>(dt)]; }
}  // namespace

size_t dtype_size(DType dt) {
  TCPP_CHECK(!is_block_dtype(dt), ValueError, "dtype ", info(dt).torch,
             " is a block dtype without a per-element size");
  return static_cast<size_t>(info(dt).block_bytes);
}

bool is_floating(DType dt) { return dt == DType::F32 || dt == DType::F16 || dt == DType::BF16; }

bool is_block_dtype(DType dt) { return info(dt).block_elements > 1; }
int64_t dtype_block_elements(DType dt) { return info(dt).block_elements; }
int64_t dtype_block_bytes(DType dt) { return info(dt).block_bytes; }

size_t dtype_nbytes(DType dt, int64_t numel) {
  const DTypeInfo& i = info(dt);
  TCPP_CHECK(numel % i.block_elements == 0, ShapeError, numel, " elements of ", i.torch,
             " are not whole blocks of ", i.block_elements);
  return static_cast<size_t>(numel / i.block_elements * i.block_bytes);
}

std::string_view dtype_safetensors_name(DType dt) { return info(dt).safetensors; }

DType dtype_from_safetensors_name(std::string_view name, const std::string& where) {
  for (size_t i = 0; i < sizeof(kInfo) / sizeof(kInfo[0]); ++i)
    if (name == kInfo[i].safetensors) return static_cast<DType>(i);
  throw FormatError(detail::concat(where, ": unsupported dtype '", name, "'"));
}

std::string_view dtype_torch_name(DType dt) { return info(dt).torch; }

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
