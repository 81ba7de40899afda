// save_pretrained for causal LMs, and random initialisation (for tiny test models and the
// README's demo model). The weight-conversion issue extends saving with reverse conversions and
// sharding.
#pragma once

#include <filesystem>
#include <memory>

#include "transformers/models/causal_lm.h"

namespace transformers {

// Writes config.json (v5 form unless `v4_config`), model.safetensors with every parameter but
// tied targets (in `dtype`, default: each tensor's own), and generation_config.json.
struct SaveOptions {
  std::optional<DType> dtype;
  bool v4_config = false;
};
void save_pretrained(const CausalLM& model, const std::filesystem::path& dir, const SaveOptions& options = {});

// Builds the model a config describes and fills its parameters with random values: matrices
// ~ N(0, std), norm weights 1 + N(0, std/10), biases N(0, std/10), reproducibly from `seed`.
std::unique_ptr<CausalLM> make_random_model(const PretrainedConfig& config, uint64_t seed, double std = 0.02,
                                            DType dtype = DType::F32);

}  // namespace transformers
