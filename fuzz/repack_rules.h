// Shared by the repack fuzz targets (bnb_repack.cpp, prequant_repack.cpp): a tensor filled from
// the fuzzer's bytes, and running every rule's ops on a copy of the source tensor groups, as
// loading/conversion_plan.cpp's materialize does, reading the last byte of each output so that
// nothing is optimised away.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "transformers/core/tensor.h"
#include "transformers/loading/conversion_ops.h"
#include "transformers/loading/weight_transform.h"

// A tensor of `shape` and `dt` holding the fuzzer's next bytes, zeros where they run out.
inline transformers::Tensor tensor_of_fuzzed_bytes(FuzzedDataProvider& in, const std::vector<int64_t>& shape,
                                                   transformers::DType dt) {
  transformers::Tensor t = transformers::Tensor::empty(shape, dt);
  const auto bytes = in.ConsumeBytes<uint8_t>(t.nbytes());
  std::memset(t.raw_data(), 0, t.nbytes());
  if (!bytes.empty()) std::memcpy(t.raw_data(), bytes.data(), bytes.size());
  return t;
}

inline void run_repack_rules(const std::vector<transformers::loading::WeightTransform>& rules,
                             const transformers::loading::TensorGroups& groups, const std::string& target_key) {
  for (const auto& rule : rules) {
    transformers::loading::TensorGroups value = groups;
    transformers::loading::ConversionContext ctx;
    ctx.target_key = target_key;
    for (const auto& op : rule.operations()) value = op->convert(std::move(value), ctx);
    volatile uint8_t sink = 0;
    for (const auto& group : value)
      for (const auto& t : group)
        if (t.nbytes() > 0) sink = static_cast<uint8_t>(sink ^ static_cast<const uint8_t*>(t.raw_data())[t.nbytes() - 1]);
    (void)sink;
  }
}
