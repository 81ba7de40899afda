// AutoModelForCausalLM::from_pretrained(folder, options): config.json -> registry -> model ->
// weights (safetensors, single file or sharded) -> generation_config.json.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "transformers/loading/load_weights.h"
#include "transformers/models/causal_lm.h"

namespace transformers {

struct LoadOptions {
  // "auto": the checkpoint's dtype (config.json's dtype/torch_dtype, else the stored weights');
  // or "float32", "bfloat16", "float16".
  std::string dtype = "auto";
  // Print the load report (unexpected keys) to stderr.
  bool verbose = false;
};

struct AutoModelForCausalLM {
  static std::unique_ptr<CausalLM> from_pretrained(const std::filesystem::path& path, const LoadOptions& options = {});
  static std::unique_ptr<CausalLM> from_pretrained(const std::filesystem::path& path, const LoadOptions& options,
                                                   LoadReport* report);
};

// The dtype "auto" resolves to for this config and checkpoint.
DType resolve_dtype(const std::string& requested, const PretrainedConfig& config, const SafetensorsCheckpoint& checkpoint);

}  // namespace transformers
