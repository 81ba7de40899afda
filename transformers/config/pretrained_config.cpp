#include "transformers/config/pretrained_config.h"

#include "transformers/hub/hub_cache.h"

namespace transformers {

double RopeParameters::get(const std::string& key, std::optional<double> fallback) const {
  auto it = raw.find(key);
  if (it == raw.end() || it->is_null()) {
    TCPP_CHECK(fallback.has_value(), ConfigError, "rope_parameters (rope_type '", rope_type, "'): missing key '", key,
               "'");
    return *fallback;
  }
  return config_number_value(*it, "rope_parameters: key '" + key + "'");
}

namespace {

// What v5's rope validation refuses and what would divide by zero or index out of bounds here:
// a non-positive theta, factor or original length, llama3 with equal low and high freq factors.
void validate_rope(const RopeParameters& r, const std::string& where) {
  auto positive = [&](const char* key) {
    if (r.has(key)) check_config_positive(where, key, r.get(key));
  };
  check_config_positive(where, "rope_theta", r.rope_theta);
  // (beta_fast / beta_slow of 0 mean the default in v5, so they are not checked here.)
  for (const char* key : {"factor", "low_freq_factor", "high_freq_factor", "attention_factor"}) positive(key);
  if (r.has("original_max_position_embeddings")) {
    const char* key = "original_max_position_embeddings";
    check_config_range(where, key, config_int_value(r.raw[key], where + ": key '" + key + "'"), INT64_MAX);
  }
  if (r.partial_rotary_factor)
    TCPP_CHECK(*r.partial_rotary_factor > 0 && *r.partial_rotary_factor <= 1, ConfigError, where,
               ": partial_rotary_factor is ", *r.partial_rotary_factor, ", out of range (0, 1]");
  if (r.rope_type == "llama3" && r.has("low_freq_factor") && r.has("high_freq_factor"))
    TCPP_CHECK(r.get("low_freq_factor") != r.get("high_freq_factor"), ConfigError, where,
               ": llama3 low_freq_factor and high_freq_factor must differ (both ", r.get("low_freq_factor"), ")");
}

RopeParameters parse_rope(const Json& obj, std::optional<double> theta_fallback, const std::string& where) {
  TCPP_CHECK(obj.is_object(), ConfigError, where, ": rope parameters must be an object");
  RopeParameters r;
  r.raw = obj;
  // v4 used "type" in some configs; v5 uses "rope_type".
  if (auto t = config_get_optional<std::string>(obj, "rope_type", where)) r.rope_type = *t;
  else if (auto t4 = config_get_optional<std::string>(obj, "type", where)) r.rope_type = *t4;
  if (auto theta = config_get_optional<double>(obj, "rope_theta", where)) r.rope_theta = *theta;
  else if (theta_fallback) r.rope_theta = *theta_fallback;
  r.partial_rotary_factor = config_get_optional<double>(obj, "partial_rotary_factor", where);
  r.raw["rope_type"] = r.rope_type;
  r.raw["rope_theta"] = r.rope_theta;
  validate_rope(r, where);
  return r;
}

// Scaled ropes fall back on max_position_embeddings: dynamic divides by it at every length, yarn
// and longrope derive a missing factor or original length from it, llama3 a missing original
// length. Without it (absent: v5's config classes would supply a default we do not know) the
// frequencies would be divided by zero, so the folder is refused naming the rope and the key.
void check_rope_fallback_length(const RopeParameters& r, int64_t max_position_embeddings, const std::string& where) {
  if (max_position_embeddings >= 1) return;
  const std::string& t = r.rope_type;
  const bool original = r.has("original_max_position_embeddings");
  const bool needs = t == "dynamic" || ((t == "yarn" || t == "longrope") && !(original && r.has("factor"))) ||
                     (t == "llama3" && !original);
  TCPP_CHECK(!needs, ConfigError, where, " (rope_type '", t, "') needs max_position_embeddings, which config.json lacks",
             t == "dynamic" ? "" : " (or both factor and original_max_position_embeddings in the rope parameters)");
}

bool looks_per_layer_type(const Json& rp) {
  if (!rp.is_object() || rp.empty()) return false;
  for (auto it = rp.begin(); it != rp.end(); ++it)
    if (!it.value().is_object()) return false;
  return true;
}

}  // namespace

const RopeParameters& PretrainedConfig::rope_for_layer_type(const std::string& layer_type) const {
  if (rope_parameters_by_layer_type.empty()) return rope_parameters;
  auto it = rope_parameters_by_layer_type.find(layer_type);
  TCPP_CHECK(it != rope_parameters_by_layer_type.end(), ConfigError, where(), ": rope_parameters has no entry for layer type '",
             layer_type, "'");
  return it->second;
}

const std::vector<std::pair<const char*, int64_t>>& config_size_limits() {
  constexpr int64_t kWidth = int64_t{1} << 20, kFeedForward = int64_t{1} << 22, kCount = int64_t{1} << 14;
  static const std::vector<std::pair<const char*, int64_t>> limits = {
      {"vocab_size", int64_t{1} << 24},   {"hidden_size", kWidth},
      {"n_embd", kWidth},                 {"intermediate_size", kFeedForward},
      {"n_inner", kFeedForward},          {"moe_intermediate_size", kFeedForward},
      {"shared_expert_intermediate_size", kFeedForward},
      {"num_hidden_layers", kCount},      {"n_layer", kCount},
      {"num_attention_heads", kCount},    {"n_head", kCount},
      {"num_key_value_heads", kCount},    {"head_dim", int64_t{1} << 16},
      {"num_experts", kCount},            {"num_local_experts", kCount},
      {"num_experts_per_tok", kCount},    {"type_vocab_size", int64_t{1} << 16},
      {"max_position_embeddings", int64_t{1} << 32}, {"n_positions", int64_t{1} << 32},
      {"sliding_window", INT64_MAX},      {"local_attention", INT64_MAX},
      {"sliding_window_pattern", kCount}, {"global_attn_every_n_layers", kCount},
      {"decoder_sparse_step", kCount},    {"num_labels", int64_t{1} << 24}};
  return limits;
}

PretrainedConfig PretrainedConfig::from_json(const Json& json, const std::filesystem::path& origin) {
  PretrainedConfig c;
  c.path = origin;
  const std::string w = c.where();
  TCPP_CHECK(json.is_object(), ConfigError, w, ": config must be a JSON object");
  c.raw = json;
  for (const auto& [key, limit] : config_size_limits())
    if (auto v = config_get_optional<int64_t>(json, key, w)) check_config_range(w, key, *v, limit);
  c.model_type = config_get<std::string>(json, "model_type", w);
  c.architectures = config_get_or<std::vector<std::string>>(json, "architectures", {}, w);
  auto int_or = [&](const char* k, int64_t fb) { return config_get_or<int64_t>(json, k, fb, w); };
  c.vocab_size = int_or("vocab_size", 0);
  c.hidden_size = int_or("hidden_size", 0);
  c.intermediate_size = int_or("intermediate_size", 0);
  c.num_hidden_layers = int_or("num_hidden_layers", 0);
  c.num_attention_heads = int_or("num_attention_heads", 0);
  c.num_key_value_heads = int_or("num_key_value_heads", c.num_attention_heads);
  c.max_position_embeddings = int_or("max_position_embeddings", 0);
  c.head_dim = int_or("head_dim", c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0);
  c.hidden_act = config_get_or<std::string>(json, "hidden_act", "silu", w);
  c.rms_norm_eps = config_get_or<double>(json, "rms_norm_eps", 1e-6, w);
  c.tie_word_embeddings = config_get_or<bool>(json, "tie_word_embeddings", false, w);
  c.sliding_window = config_get_optional<int64_t>(json, "sliding_window", w);
  c.layer_types = config_get_or<std::vector<std::string>>(json, "layer_types", {}, w);
  c.bos_token_id = config_get_optional<int64_t>(json, "bos_token_id", w);
  c.pad_token_id = config_get_optional<int64_t>(json, "pad_token_id", w);
  if (json.contains("eos_token_id"))
    c.eos_token_ids = config_int_or_list_value(json["eos_token_id"], config_detail::key_name(w, "eos_token_id"));
  // v5 writes "dtype"; v4 wrote "torch_dtype". "auto" and absent mean: the checkpoint's dtype.
  for (const char* key : {"dtype", "torch_dtype"}) {
    auto name = config_get_optional<std::string>(json, key, w);
    if (name && *name != "auto") {
      c.dtype = dtype_from_name(*name, w + ": " + key);
      break;
    }
  }

  // Rotary parameters: v5 rope_parameters wins; else v4 rope_scaling + rope_theta.
  std::optional<double> theta = config_get_optional<double>(json, "rope_theta", w);
  auto partial = config_get_optional<double>(json, "partial_rotary_factor", w);
  const bool v5_rope = json.contains("rope_parameters") && !json["rope_parameters"].is_null();
  if (v5_rope) {
    const Json& rp = json["rope_parameters"];
    if (looks_per_layer_type(rp)) {
      for (auto it = rp.begin(); it != rp.end(); ++it)
        c.rope_parameters_by_layer_type[it.key()] = parse_rope(it.value(), theta, w + ": rope_parameters." + it.key());
      c.rope_parameters = c.rope_parameters_by_layer_type.begin()->second;
    } else {
      c.rope_parameters = parse_rope(rp, theta, w + ": rope_parameters");
    }
  } else {
    const Json scaling = config_get_or<Json>(json, "rope_scaling", Json::object(), w);
    c.rope_parameters = parse_rope(scaling, theta ? theta : std::optional<double>(10000.0), w + ": rope_scaling");
  }
  if (partial && !c.rope_parameters.partial_rotary_factor) {
    c.rope_parameters.partial_rotary_factor = partial;
    c.rope_parameters.raw["partial_rotary_factor"] = *partial;
    validate_rope(c.rope_parameters, w + ": partial_rotary_factor");
  }
  const std::string rope_key = v5_rope ? ": rope_parameters" : ": rope_scaling";
  check_rope_fallback_length(c.rope_parameters, c.max_position_embeddings, w + rope_key);
  for (const auto& [type, rope] : c.rope_parameters_by_layer_type)
    check_rope_fallback_length(rope, c.max_position_embeddings, w + rope_key + "." + type);
  return c;
}

PretrainedConfig PretrainedConfig::from_pretrained(const std::filesystem::path& name) {
  const std::filesystem::path path = hub::resolve_pretrained_path(name);
  std::filesystem::path file = std::filesystem::is_directory(path) ? path / "config.json" : path;
  TCPP_CHECK(std::filesystem::exists(file), IoError, file.string(), ": no such file (a model folder needs config.json)");
  return from_json(read_json_file(file), file);
}

Json PretrainedConfig::to_json() const {
  Json out = raw;
  out.erase("rope_scaling");
  out.erase("rope_theta");
  out.erase("torch_dtype");
  if (rope_parameters_by_layer_type.empty()) {
    out["rope_parameters"] = rope_parameters.raw;
  } else {
    Json rp = Json::object();
    for (const auto& [k, v] : rope_parameters_by_layer_type) rp[k] = v.raw;
    out["rope_parameters"] = rp;
  }
  if (dtype) out["dtype"] = std::string(dtype_torch_name(*dtype));
  return out;
}

}  // namespace transformers
