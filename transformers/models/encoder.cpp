#include "transformers/models/encoder.h"

#include <cstdio>

namespace transformers {

const std::vector<EncoderEntry>& encoder_registry() {
  static const std::vector<EncoderEntry> entries = {
      {"bert", make_bert},
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
  LoadReport report = load_weights(*model, ck, lw);
  if (options.verbose && !report.unexpected.empty())
    std::fprintf(stderr, "warning: %zu unexpected tensors in the checkpoint (first: %s)\n", report.unexpected.size(),
                 report.unexpected.front().c_str());
  return model;
}

}  // namespace transformers
