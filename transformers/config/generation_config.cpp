#include "transformers/config/generation_config.h"

#include "transformers/config/pretrained_config.h"

namespace transformers {

GenerationConfig GenerationConfig::from_json(const Json& json, const std::string& w) {
  TCPP_CHECK(json.is_object(), ConfigError, w, ": must be a JSON object");
  GenerationConfig g;
  g.raw = json;
  g.max_new_tokens = json_get_optional<int64_t>(json, "max_new_tokens", w);
  g.max_length = json_get_or<int64_t>(json, "max_length", 20, w);
  g.min_new_tokens = json_get_or<int64_t>(json, "min_new_tokens", 0, w);
  g.do_sample = json_get_or<bool>(json, "do_sample", false, w);
  g.temperature = json_get_or<double>(json, "temperature", 1.0, w);
  g.top_k = json_get_or<int64_t>(json, "top_k", 50, w);
  g.top_p = json_get_or<double>(json, "top_p", 1.0, w);
  g.min_p = json_get_or<double>(json, "min_p", 0.0, w);
  g.repetition_penalty = json_get_or<double>(json, "repetition_penalty", 1.0, w);
  g.num_beams = json_get_or<int64_t>(json, "num_beams", 1, w);
  g.num_return_sequences = json_get_or<int64_t>(json, "num_return_sequences", 1, w);
  g.bos_token_id = json_get_optional<int64_t>(json, "bos_token_id", w);
  g.pad_token_id = json_get_optional<int64_t>(json, "pad_token_id", w);
  g.cache_implementation = json_get_optional<std::string>(json, "cache_implementation", w);
  g.use_cache = json_get_or<bool>(json, "use_cache", true, w);
  if (json.contains("eos_token_id") && !json["eos_token_id"].is_null()) {
    if (json["eos_token_id"].is_array()) g.eos_token_ids = json_get<std::vector<int64_t>>(json, "eos_token_id", w);
    else g.eos_token_ids = {json_get<int64_t>(json, "eos_token_id", w)};
  }
  return g;
}

GenerationConfig GenerationConfig::from_pretrained(const std::filesystem::path& folder, const PretrainedConfig* mc) {
  const auto file = folder / "generation_config.json";
  GenerationConfig g = std::filesystem::exists(file) ? from_json(read_json_file(file), file.string()) : GenerationConfig{};
  if (mc) {
    if (!g.bos_token_id) g.bos_token_id = mc->bos_token_id;
    if (!g.pad_token_id) g.pad_token_id = mc->pad_token_id;
    if (g.eos_token_ids.empty()) g.eos_token_ids = mc->eos_token_ids;
  }
  return g;
}

}  // namespace transformers
