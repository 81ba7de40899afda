#include "transformers/models/auto.h"

#include <cstdio>

#include "transformers/gguf/gguf_model.h"
#include "transformers/hub/hub_cache.h"
#include "transformers/loading/conversion_mapping.h"
#include "transformers/loading/prequantized.h"
#include "transformers/models/checkpoint_checks.h"
#include "transformers/models/registry.h"

namespace transformers {

DType resolve_dtype(const std::string& requested, const PretrainedConfig& config, const SafetensorsCheckpoint& ck) {
  if (requested != "auto") return dtype_from_name(requested, "dtype option");
  if (config.dtype) return *config.dtype;
  for (const auto& name : ck.names()) {
    DType dt = ck.entry(name).dtype;
    if (is_floating(dt)) return dt;
  }
  return DType::F32;
}

void report_load(const LoadReport& report, const LoadOptions& options) {
  if (options.verbose) std::fputs(report.to_string().c_str(), stderr);
  else warn_unused_weights(report);
}

std::vector<loading::WeightTransform> model_conversion_rules(
    const PretrainedConfig& config, const std::vector<std::pair<std::string, std::string>>& key_mapping) {
  std::vector<loading::WeightTransform> rules = loading::key_mapping_renamings(key_mapping);
  for (auto& r : loading::conversion_mapping(config.model_type)) rules.push_back(std::move(r));
  for (auto& r : loading::legacy_renamings()) rules.push_back(std::move(r));
  return rules;
}

std::unique_ptr<CausalLM> AutoModelForCausalLM::from_pretrained(const std::filesystem::path& path,
                                                                 const LoadOptions& options) {
  return from_pretrained(path, options, nullptr);
}

std::unique_ptr<CausalLM> AutoModelForCausalLM::from_pretrained(const std::filesystem::path& name,
                                                                 const LoadOptions& options, LoadReport* report_out) {
  const std::filesystem::path path = hub::resolve_pretrained_path(name);
  if (gguf::is_gguf_file(path)) return gguf::load_gguf_causal_lm(path, options);
  TCPP_CHECK(std::filesystem::is_directory(path), IoError, path.string(), ": not a model folder (nor a GGUF file)");
  PretrainedConfig config = PretrainedConfig::from_pretrained(path);
  const ModelEntry& entry = find_model(config);
  SafetensorsCheckpoint ck = SafetensorsCheckpoint::open(path);
  check_config_against_checkpoint(config, ck);
  const DType dtype = resolve_dtype(options.dtype, config, ck);
  std::unique_ptr<CausalLM> model = entry.causal_lm(config);
  model->dtype = dtype;
  LoadWeightsOptions lw;
  lw.dtype = dtype;
  lw.tied = model->tied_weights();
  lw.rules = model_conversion_rules(config, options.key_mapping);
  lw.config = &model->config();
  lw.strict = options.strict;
  lw.base_model_prefix = model->base_model_prefix();
  lw.on_progress = options.on_progress;
  // The checkpoint's own quantization_config (refused unless one of ours), else the option's.
  const std::optional<QuantizationConfig> stored = checkpoint_quantization(config.raw, config.where());
  const std::optional<QuantizationConfig>& quantization = options.quantization_config ? options.quantization_config : stored;
  if (quantization) quantization->weight_dtype();  // an unknown method fails before any tensor is read
  lw.quantization = quantization ? &*quantization : nullptr;
  // A pre-quantized checkpoint (GPTQ, AWQ, FP8, MXFP4): its modules are repacked by rules that
  // run before the model's own.
  if (const auto pre = loading::prequantized_checkpoint(config.raw, config.where())) {
    TCPP_CHECK(!options.quantization_config, ValueError, config.where(), ": the checkpoint is already quantized (",
               pre->method, "); load it without a quantization_config");
    auto rules = loading::prequantized_rules(*pre, ck.names());
    TCPP_CHECK(!rules.empty(), FormatError, config.where(), ": quantization_config.quant_method is '", pre->method,
               "' but the checkpoint has no tensor in that format (",
               loading::prequantized_marker(*pre), ")");
    rules.insert(rules.end(), lw.rules.begin(), lw.rules.end());
    lw.rules = std::move(rules);
    lw.prequantized = pre->method;
  }
  LoadReport report = load_weights(*model, ck, lw);
  report_load(report, options);
  model->generation_config = GenerationConfig::from_pretrained(path, &model->config());
  if (report_out) *report_out = std::move(report);
  return model;
}

}  // namespace transformers
