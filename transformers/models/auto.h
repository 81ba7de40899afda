// AutoModelForCausalLM::from_pretrained(folder, options): config.json -> registry -> model ->
// weights (safetensors, single file or sharded) -> generation_config.json. The folder may be
// named by Hub name, "org/name[@revision]", found offline in the Hub cache (hub/hub_cache.h); the
// encoders' loaders, Tokenizer, the configs and ChatTemplates::from_directory accept it too.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transformers/loading/load_weights.h"
#include "transformers/models/causal_lm.h"

namespace transformers {

struct LoadOptions {
  // "auto": the checkpoint's dtype (config.json's dtype/torch_dtype, else the stored weights');
  // or "float32", "bfloat16", "float16".
  std::string dtype = "auto";
  // Print the whole load report to stderr (otherwise: one warning line when checkpoint tensors
  // are left unused).
  bool verbose = false;
  // Unexpected checkpoint keys are an error, not a warning.
  bool strict = false;
  // from_pretrained's key_mapping: {regex, replacement} renamings applied before the model's
  // conversion table (loading/conversion_mapping.h).
  std::vector<std::pair<std::string, std::string>> key_mapping{};
  // Weight loading progress: (groups of tensors done, in all), from several threads at once
  // (loading/load_weights.h).
  std::function<void(size_t done, size_t total)> on_progress{};
  // v5's quantization_config: quantize weight matrices while loading (loading/quantization.h),
  // e.g. {.quantization_config = QuantizationConfig{.quant_method = "q4_0"}}. A checkpoint
  // saved quantized in our formats loads quantized without it.
  std::optional<QuantizationConfig> quantization_config{};
};

struct AutoModelForCausalLM {
  static std::unique_ptr<CausalLM> from_pretrained(const std::filesystem::path& path, const LoadOptions& options = {});
  static std::unique_ptr<CausalLM> from_pretrained(const std::filesystem::path& path, const LoadOptions& options,
                                                   LoadReport* report);
};

// The weight rules from_pretrained applies: user key_mapping, the model_type's conversion table
// (loading/conversion_mapping.h), then v5's legacy renames.
std::vector<loading::WeightTransform> model_conversion_rules(
    const PretrainedConfig& config, const std::vector<std::pair<std::string, std::string>>& key_mapping = {});

// What from_pretrained prints after loading weights (see LoadOptions::verbose).
void report_load(const LoadReport& report, const LoadOptions& options);

// The dtype "auto" resolves to for this config and checkpoint.
DType resolve_dtype(const std::string& requested, const PretrainedConfig& config, const SafetensorsCheckpoint& checkpoint);

}  // namespace transformers
