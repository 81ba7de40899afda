// libFuzzer target: a stranger's pre-quantized checkpoint (loading/prequantized.h) as the loader
// sees it: config.json's quantization_config (fuzzed text, or a method's real keys with fuzzed
// values) read by prequantized_checkpoint, then one module's tensors (the method's key suffixes,
// with fuzzed dtypes, shapes and bytes) through the rules prequantized_rules builds and their
// repacking ops (GPTQ, AWQ, FP8, MXFP4, compressed-tensors int4 / fp8). Bad configs and tensors
// must fail with transformers::Error; nothing may crash, hang or allocate past the tensors' sizes.
// Input: the bytes drive FuzzedDataProvider (no seed corpus needed: every choice is a byte).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "transformers/core/error.h"
#include "transformers/core/tensor.h"
#include "transformers/io/json.h"
#include "transformers/loading/conversion_ops.h"
#include "repack_rules.h"
#include "transformers/loading/prequantized.h"

namespace {

using transformers::DType;
using transformers::Tensor;

// A tensor of a fuzzed dtype and shape (1-4 dimensions, at most 8192 elements), filled from the
// input (zeros once it runs out). `preferred` is the dtype the method expects, picked most often.
Tensor fuzzed_tensor(FuzzedDataProvider& in, DType preferred) {
  const DType dtypes[] = {preferred, preferred, DType::I32, DType::U8, DType::F16, DType::F32, DType::F8_E4M3,
                          DType::BF16, DType::I64};
  const DType dt = dtypes[in.ConsumeIntegralInRange<size_t>(0, std::size(dtypes) - 1)];
  std::vector<int64_t> shape;
  const int dims = in.ConsumeIntegralInRange<int>(1, 4);
  int64_t numel = 1;
  for (int d = 0; d < dims; ++d) {
    // Sizes around the formats' block widths (8 nibbles per int32, 16 bytes per MXFP4 block,
    // groups of 32-128, FP8 blocks of 128) are where the arithmetic of the checks is exercised.
    const int64_t choices[] = {0, 1, 2, 8, 16, 32, 64, 128, 256};
    const int64_t size = in.ConsumeBool() ? choices[in.ConsumeIntegralInRange<size_t>(0, std::size(choices) - 1)]
                                          : in.ConsumeIntegralInRange<int64_t>(0, 300);
    shape.push_back(size);
    numel *= size;
  }
  if (numel > 8192) shape = {8192};
  return tensor_of_fuzzed_bytes(in, shape, dt);
}

std::string integer_or_text(FuzzedDataProvider& in, int64_t usual) {
  if (in.ConsumeBool()) return std::to_string(usual);
  if (in.ConsumeBool()) return std::to_string(in.ConsumeIntegral<int64_t>());
  return "\"" + in.ConsumeRandomLengthString(8) + "\"";
}

// config.json with a quantization_config of `method`: its real keys with fuzzed values, or text.
std::string config_json(FuzzedDataProvider& in, const std::string& method) {
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) return in.ConsumeRandomLengthString(512);
  std::string q = "\"quant_method\": \"" + method + "\"";
  if (method == "gptq" || method == "awq") {
    q += ", \"bits\": " + integer_or_text(in, 4) + ", \"group_size\": " + integer_or_text(in, 32);
    if (method == "gptq")
      q += ", \"desc_act\": " + std::string(in.ConsumeBool() ? "true" : "false") + ", \"checkpoint_format\": \"" +
           (in.ConsumeBool() ? "gptq" : in.ConsumeBool() ? "gptq_v2" : in.ConsumeRandomLengthString(8)) + "\"";
    else
      q += ", \"version\": \"gemm\", \"zero_point\": " + std::string(in.ConsumeBool() ? "true" : "false");
  } else if (method == "fp8") {
    q += ", \"weight_block_size\": [" + integer_or_text(in, 128) + ", " + integer_or_text(in, 128) + "]";
  } else if (method == "compressed-tensors") {
    const bool int4 = in.ConsumeBool();
    q += ", \"format\": \"" + std::string(int4 ? "pack-quantized" : "float-quantized") +
         "\", \"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"], \"weights\": {\"num_bits\": " +
         integer_or_text(in, int4 ? 4 : 8) + ", \"type\": \"" + (int4 ? "int" : "float") +
         "\", \"symmetric\": true, \"strategy\": \"" +
         (in.ConsumeBool() ? (int4 ? "group" : "block") : in.ConsumeBool() ? "channel" : in.ConsumeRandomLengthString(6)) +
         "\", \"group_size\": " + integer_or_text(in, 32) + ", \"block_structure\": [" + integer_or_text(in, 128) +
         ", " + integer_or_text(in, 128) + "]}}}";
  }
  return "{\"quantization_config\": {" + q + "}}";
}

// The key suffixes of one module for `c` (what prequantized_rules looks for), with the dtype each
// usually has.
struct Part {
  const char* suffix;
  DType dtype;
};
std::vector<Part> parts_of(const transformers::loading::PrequantizedConfig& c) {
  if (c.method == "gptq")
    return {{".qweight", DType::I32}, {".qzeros", DType::I32}, {".scales", DType::F16}, {".g_idx", DType::I32}};
  if (c.method == "awq") return {{".qweight", DType::I32}, {".qzeros", DType::I32}, {".scales", DType::F16}};
  if (c.method == "fp8") return {{".weight", DType::F8_E4M3}, {".weight_scale_inv", DType::F32}};
  if (c.method == "mxfp4") return {{"_blocks", DType::U8}, {"_scales", DType::U8}};
  if (c.scheme == "int4")
    return {{".weight_packed", DType::I32}, {".weight_scale", DType::F16}, {".weight_shape", DType::I32}};
  return {{".weight", DType::F8_E4M3}, {".weight_scale", DType::F32}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const char* methods[] = {"gptq", "awq", "fp8", "mxfp4", "compressed-tensors"};
  const std::string method = methods[in.ConsumeIntegralInRange<size_t>(0, std::size(methods) - 1)];
  try {
    const auto config = transformers::loading::prequantized_checkpoint(
        transformers::parse_json(config_json(in, method), "config.json"), "config.json");
    if (!config) return 0;
    // MXFP4 names its tensors after the parameter (experts.gate_up_proj_blocks), the others after
    // the module (q_proj.qweight).
    const std::string module = config->method == "mxfp4" ? "model.layers.0.mlp.experts.gate_up_proj"
                                                         : "model.layers.0.self_attn.q_proj";
    std::vector<std::string> keys;
    transformers::loading::TensorGroups groups;
    // One group per source key, as the loader's plan gathers them (conversion_plan.cpp): a key
    // the checkpoint lacks leaves its group empty.
    for (const Part& part : parts_of(*config)) {
      if (in.ConsumeIntegralInRange<int>(0, 15) == 0) {
        groups.emplace_back();
        continue;
      }
      keys.push_back(module + part.suffix);
      groups.push_back({fuzzed_tensor(in, part.dtype)});
    }
    run_repack_rules(transformers::loading::prequantized_rules(*config, keys), groups,
                     config->method == "mxfp4" ? module : module + ".weight");
  } catch (const transformers::Error&) {
  }
  return 0;
}
