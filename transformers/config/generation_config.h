// GenerationConfig: generation_config.json with Transformers' defaults.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "transformers/io/json.h"

namespace transformers {

struct PretrainedConfig;

struct GenerationConfig {
  std::optional<int64_t> max_new_tokens;
  int64_t max_length = 20;
  int64_t min_new_tokens = 0;
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 50;
  double top_p = 1.0;
  double min_p = 0.0;
  double repetition_penalty = 1.0;
  int64_t num_beams = 1;
  int64_t num_return_sequences = 1;
  std::optional<int64_t> bos_token_id, pad_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<std::string> cache_implementation;
  bool use_cache = true;
  Json raw = Json::object();

  static GenerationConfig from_json(const Json& json, const std::string& where = "generation_config.json");
  // Reads MODEL/generation_config.json when present; otherwise derives the token ids from the
  // model config, as Transformers does.
  static GenerationConfig from_pretrained(const std::filesystem::path& folder, const PretrainedConfig* model_config = nullptr);
};

}  // namespace transformers
