// PretrainedConfig: config.json read with v5 semantics. Both v4 keys (rope_theta, rope_scaling,
// torch_dtype) and v5 keys (rope_parameters, dtype) are accepted and normalised to v5's
// rope_parameters; the raw JSON stays available for model-specific fields.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transformers/config/config_values.h"
#include "transformers/core/dtype.h"
#include "transformers/io/json.h"

namespace transformers {

// One set of rotary parameters (v5 `rope_parameters`, or one entry of its per-layer-type form).
struct RopeParameters {
  std::string rope_type = "default";
  double rope_theta = 10000.0;
  std::optional<double> partial_rotary_factor;
  Json raw = Json::object();  // every key as given (factor, low_freq_factor, beta_fast, ...)

  // Typed access to a float field of `raw`, with errors naming the key.
  double get(const std::string& key, std::optional<double> fallback = std::nullopt) const;
  bool has(const std::string& key) const { return raw.contains(key) && !raw[key].is_null(); }
};

struct PretrainedConfig {
  std::filesystem::path path;  // the config.json it came from (for messages)
  Json raw;

  std::string model_type;
  std::vector<std::string> architectures;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  std::string hidden_act = "silu";
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  std::optional<int64_t> sliding_window;
  std::vector<std::string> layer_types;  // as given by config.json, empty when absent
  std::optional<DType> dtype;            // dtype / torch_dtype
  std::optional<int64_t> bos_token_id, pad_token_id;
  std::vector<int64_t> eos_token_ids;

  // Normalised rotary parameters: one set, or one per layer type (Gemma3, ModernBERT).
  RopeParameters rope_parameters;
  std::map<std::string, RopeParameters> rope_parameters_by_layer_type;
  const RopeParameters& rope_for_layer_type(const std::string& layer_type) const;

  // Typed access to other keys, with errors naming config.json and the key (integers strictly:
  // see config_values.h).
  template <typename T>
  T get(const std::string& key) const {
    return config_get<T>(raw, key, where());
  }
  template <typename T>
  T get_or(const std::string& key, T fallback) const {
    return config_get_or<T>(raw, key, fallback, where());
  }
  template <typename T>
  std::optional<T> get_optional(const std::string& key) const {
    return config_get_optional<T>(raw, key, where());
  }
  std::string where() const { return path.empty() ? std::string("config.json") : path.string(); }

  // Refuses (ConfigError naming the key) sizes outside [1, limit] (config_size_limits()), a
  // non-positive sliding_window, rope_theta or rope factor, and other values that would index or
  // allocate out of bounds later.
  static PretrainedConfig from_json(const Json& json, const std::filesystem::path& origin = {});
  // `path` is a model folder (reads config.json) or a config.json file.
  static PretrainedConfig from_pretrained(const std::filesystem::path& path);
  // The v5 form of the config (rope_parameters, dtype), as save_pretrained writes it.
  Json to_json() const;
};

// The size keys (hidden_size, num_hidden_layers, n_embd, ...) checked when present, each with its
// upper limit: far above any released model, far below what would exhaust memory when a model
// is built from the config before its weights are checked.
const std::vector<std::pair<const char*, int64_t>>& config_size_limits();

}  // namespace transformers
