#include <string>

#include "transformers/core/error.h"
#include "transformers/ops/cpu/kernels.h"

namespace transformers::cpu {
namespace {
using Act = WeightFormat::ActivationFormat;
// In weight_format_index order.
const WeightFormat kFormats[kWeightFormatCount] = {
    {DType::F32, "f32", 1, 4, Act::F32},
    {DType::BF16, "bf16", 1, 2, Act::F32},
    {DType::F16, "f16", 1, 2, Act::F32},
};
}  // namespace

int weight_format_index(DType dt) {
  switch (dt) {
    case DType::F32: return 0;
    case DType::BF16: return 1;
    case DType::F16: return 2;
    case DType::I32:
    case DType::I64:
    case DType::U8:
    case DType::Bool:
    case DType::I8:
    case DType::F8_E4M3:
    case DType::Q8_0:
    case DType::Q4_0: break;
  }
  throw ValueError("no weight kernels for dtype " + std::string(dtype_safetensors_name(dt)) +
                   " (weights are F32, BF16 or F16)");
}

const WeightFormat& weight_format(DType dt) { return kFormats[weight_format_index(dt)]; }

}  // namespace transformers::cpu
