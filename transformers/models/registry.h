// The model registry: model_type -> factory, with the architectures[] names each serves.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "transformers/models/causal_lm.h"

namespace transformers {

using CausalLMFactory = std::unique_ptr<CausalLM> (*)(const PretrainedConfig&);

struct ModelEntry {
  std::string model_type;
  std::vector<std::string> architectures;  // class names in config.json's architectures[]
  CausalLMFactory causal_lm;
};

const std::vector<ModelEntry>& model_registry();
// Throws ConfigError naming the config and listing the supported types when unknown.
const ModelEntry& find_model(const PretrainedConfig& config);

}  // namespace transformers
