// Per-model_type conversion tables (v5's conversion_mapping.py): data, not code in the models.
// A model_type that is not listed loads 1:1. Families share one table through an alias list,
// as v5's _MODEL_TO_CONVERSION_PATTERN does.
#pragma once

#include <string>
#include <vector>

#include "transformers/loading/weight_transform.h"

namespace transformers::loading {

// The registered rules for a model_type (empty when it loads 1:1), without the legacy renames.
std::vector<WeightTransform> conversion_mapping(const std::string& model_type);

// Renames every load applies after the model's rules and no save reverses (v5's `legacy`
// list): LayerNorm.gamma/beta -> weight/bias, weight_g/weight_v -> parametrizations.
std::vector<WeightTransform> legacy_renamings();

// Adds or replaces the table of a model_type at run time (v5's
// register_checkpoint_conversion_mapping). Without `overwrite`, an existing table is an error.
// Model files of new architectures may call this, or add a line to the table in the .cpp.
void register_conversion_mapping(const std::string& model_type, std::vector<WeightTransform> rules,
                                 bool overwrite = false);

// User key_mapping {regex: replacement} becomes leading renamings (from_pretrained's key_mapping).
std::vector<WeightTransform> key_mapping_renamings(const std::vector<std::pair<std::string, std::string>>& mapping);

}  // namespace transformers::loading
