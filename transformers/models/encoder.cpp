#include "transformers/models/encoder.h"

#include <cstdio>
#include <map>
#include <random>

#include "transformers/io/safetensors.h"
#include "transformers/models/checkpoint_checks.h"

namespace transformers {

const std::vector<EncoderEntry>& encoder_registry() {
  static const std::vector<EncoderEntry> entries = {
      {"bert", make_bert},
      {"roberta", make_bert},
      {"xlm-roberta", make_bert},
      {"modernbert", make_modernbert},
  };
  return entries;
}

const EncoderEntry* find_encoder(const std::string& model_type) {
  for (const auto& e : encoder_registry())
    if (e.model_type == model_type) return &e;
  return nullptr;
}

EncoderHead encoder_head_from_architectures(const PretrainedConfig& c) {
  for (const auto& a : c.architectures) {
    auto ends = [&](const std::string& s) { return a.size() >= s.size() && a.compare(a.size() - s.size(), s.size(), s) == 0; };
    if (ends("ForMaskedLM")) return EncoderHead::MaskedLM;
    if (ends("ForSequenceClassification")) return EncoderHead::SequenceClassification;
  }
  return EncoderHead::None;
}

std::unique_ptr<EncoderModel> make_random_encoder(const PretrainedConfig& config, EncoderHead head, uint64_t seed,
                                                  double std) {
  const EncoderEntry* entry = find_encoder(config.model_type);
  TCPP_CHECK(entry, ConfigError, config.where(), ": model_type '", config.model_type, "' is not an encoder model");
  std::unique_ptr<EncoderModel> model = entry->make(config, head);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, static_cast<float>(std));
  std::map<std::string, Tensor*> slots;
  for (const auto& p : model->named_parameters()) slots[p.name] = p.tensor;
  const auto tied = model->tied_weights();
  for (const auto& p : model->named_parameters()) {
    bool is_tied_target = false;
    for (const auto& t : tied) is_tied_target |= t.first == p.name;
    if (is_tied_target) continue;
    const bool is_norm_weight = p.role == nn::ParamRole::Vector && p.name.size() >= 7 &&
                                p.name.compare(p.name.size() - 7, 7, ".weight") == 0 &&
                                (p.name.find("norm") != std::string::npos || p.name.find("LayerNorm") != std::string::npos);
    std::vector<float> values(static_cast<size_t>(shape_numel(p.shape)));
    for (float& value : values) {
      const float v = normal(rng);
      value = p.role == nn::ParamRole::Matrix ? v : is_norm_weight ? 1.0f + 0.1f * v : 0.1f * v;
    }
    *p.tensor = Tensor::from_values(values, p.shape);
  }
  for (const auto& [target, source] : tied) *slots.at(target) = *slots.at(source);
  return model;
}

void save_encoder(const EncoderModel& model, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::map<std::string, bool> tied;
  for (const auto& [target, source] : model.tied_weights()) tied[target] = true;
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& p : model.named_parameters())
    if (!tied.count(p.name) && p.tensor->defined()) tensors.emplace_back(p.name, *p.tensor);
  save_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  Json config = model.config().raw;
  config["torch_dtype"] = std::string(dtype_torch_name(model.dtype));
  write_file_atomically(dir / "config.json", config.dump(2) + "\n");
}

std::unique_ptr<EncoderModel> load_encoder(const std::filesystem::path& path, EncoderHead head, const LoadOptions& options) {
  TCPP_CHECK(std::filesystem::is_directory(path), IoError, path.string(), ": not a model folder");
  PretrainedConfig config = PretrainedConfig::from_pretrained(path);
  const EncoderEntry* entry = find_encoder(config.model_type);
  if (!entry) {
    std::string known;
    for (const auto& e : encoder_registry()) known += (known.empty() ? "" : ", ") + e.model_type;
    throw ConfigError(detail::concat(config.where(), ": model_type '", config.model_type,
                                     "' is not an encoder model (encoders: ", known, ")"));
  }
  SafetensorsCheckpoint ck = SafetensorsCheckpoint::open(path);
  check_config_against_checkpoint(config, ck);
  const DType dtype = resolve_dtype(options.dtype, config, ck);
  std::unique_ptr<EncoderModel> model = entry->make(config, head);
  model->dtype = dtype;
  LoadWeightsOptions lw;
  lw.dtype = dtype;
  lw.tied = model->tied_weights();
  lw.rules = model_conversion_rules(config, options.key_mapping);
  lw.config = &model->config();
  lw.base_model_prefix = model->base_model_prefix();
  lw.strict = options.strict;
  lw.on_progress = options.on_progress;
  LoadReport report = load_weights(*model, ck, lw);
  report_load(report, options);
  return model;
}

}  // namespace transformers
