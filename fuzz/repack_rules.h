// Shared by the repack fuzz targets (bnb_repack.cpp, prequant_repack.cpp): runs every rule's ops
// on a copy of the source tensor groups, as loading/conversion_plan.cpp's materialize does, and
// reads the last byte of each output so that nothing is optimised away.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "transformers/loading/conversion_ops.h"
#include "transformers/loading/weight_transform.h"

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
