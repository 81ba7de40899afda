// libFuzzer target: bitsandbytes' serialized layout as a stranger's checkpoint hands it to the
// loader (loading/bnb_serialized.h): one module's tensors with fuzzed dtypes, shapes and bytes, and
// a quant_state JSON (fuzzed text, or the real keys with fuzzed values), through the rules the
// loader builds (bnb_rules) and their repacking ops. Bad tensors must fail with transformers::Error.
// Input: the bytes drive FuzzedDataProvider (no seed corpus needed: every choice is a byte).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "transformers/core/error.h"
#include "transformers/core/tensor.h"
#include "transformers/loading/bnb_serialized.h"
#include "transformers/loading/conversion_ops.h"
#include "repack_rules.h"

namespace {

using transformers::DType;
using transformers::Tensor;

// A tensor of a fuzzed dtype and shape (1-2 dimensions, at most 4096 elements), filled from the
// input (zeros once it runs out).
Tensor fuzzed_tensor(FuzzedDataProvider& in, DType preferred) {
  const DType dtypes[] = {preferred, DType::U8, DType::I8, DType::F32, DType::F16, DType::I64};
  const DType dt = dtypes[in.ConsumeIntegralInRange<size_t>(0, std::size(dtypes) - 1)];
  std::vector<int64_t> shape{in.ConsumeIntegralInRange<int64_t>(0, 512)};
  if (in.ConsumeBool()) shape.push_back(in.ConsumeIntegralInRange<int64_t>(0, 8));
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (numel > 4096) shape = {4096};
  return tensor_of_fuzzed_bytes(in, shape, dt);
}

Tensor text_tensor(const std::string& text) {
  Tensor t = Tensor::empty({static_cast<int64_t>(text.size())}, DType::U8);
  if (!text.empty()) std::memcpy(t.raw_data(), text.data(), text.size());
  return t;
}

std::string quant_state(FuzzedDataProvider& in, const std::string& type, bool nested) {
  if (in.ConsumeBool()) return in.ConsumeRandomLengthString(512);
  std::string s = "{\"quant_type\": \"" + (in.ConsumeBool() ? type : in.ConsumeRandomLengthString(8)) +
                  "\", \"blocksize\": " + std::to_string(in.ConsumeBool() ? 64 : in.ConsumeIntegral<int32_t>()) +
                  ", \"dtype\": \"float32\", \"shape\": [" + std::to_string(in.ConsumeIntegral<int64_t>() % 4096) +
                  ", " + std::to_string(in.ConsumeBool() ? 64 * in.ConsumeIntegralInRange<int64_t>(0, 8)
                                                            : in.ConsumeIntegral<int64_t>()) + "]";
  if (nested)
    s += ", \"nested_blocksize\": " + std::to_string(in.ConsumeBool() ? 256 : in.ConsumeIntegral<int32_t>()) +
         ", \"nested_dtype\": \"float32\", \"nested_offset\": " +
         (in.ConsumeBool() ? std::to_string(in.ConsumeFloatingPoint<float>()) : in.ConsumeRandomLengthString(16));
  return s + "}";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const bool eight_bit = in.ConsumeBool(), nested = in.ConsumeBool(), extra = in.ConsumeBool();
  const std::string type = in.ConsumeBool() ? "nf4" : "fp4", m = "model.layers.0.mlp.up_proj";
  std::vector<std::string> keys;
  transformers::loading::TensorGroups groups;
  auto add = [&](const std::string& key, Tensor t) {
    keys.push_back(key);
    groups.push_back({std::move(t)});
  };
  try {
    if (eight_bit) {
      add(m + ".weight", fuzzed_tensor(in, DType::I8));
      add(m + ".SCB", fuzzed_tensor(in, DType::F32));
      if (extra) add(m + ".weight_format", fuzzed_tensor(in, DType::U8));
    } else {
      add(m + ".weight", fuzzed_tensor(in, DType::U8));
      add(m + ".weight.absmax", fuzzed_tensor(in, nested ? DType::U8 : DType::F32));
      add(m + ".weight.quant_map", fuzzed_tensor(in, DType::F32));
      add(m + ".weight.quant_state.bitsandbytes__" + type, text_tensor(quant_state(in, type, nested)));
      if (nested) {
        add(m + ".weight.nested_absmax", fuzzed_tensor(in, DType::F32));
        add(m + ".weight.nested_quant_map", fuzzed_tensor(in, DType::F32));
      }
    }
    const float threshold = in.ConsumeBool() ? 6.0f : in.ConsumeFloatingPoint<float>();
    run_repack_rules(transformers::loading::bnb_rules(eight_bit, threshold, keys), groups, m + ".weight");
  } catch (const transformers::Error&) {
  }
  return 0;
}
