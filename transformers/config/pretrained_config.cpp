#include "transformers/config/pretrained_config.h"

namespace transformers {

double RopeParameters::get(const std::string& key, std::optional<double> fallback) const {
  auto it = raw.find(key);
  if (it == raw.end() || it->is_null()) {
    TCPP_CHECK(fallback.has_value(), ConfigError, "rope_parameters (rope_type '", rope_type, "'): missing key '", key,
               "'");
    return *fallback;
  }
  TCPP_CHECK(it->is_number(), ConfigError, "rope_parameters: key '", key, "' must be a number");
  return it->get<double>();
}

namespace {

RopeParameters parse_rope(const Json& obj, std::optional<double> theta_fallback, const std::string& where) {
  TCPP_CHECK(obj.is_object(), ConfigError, where, ": rope parameters must be an object");
  RopeParameters r;
  r.raw = obj;
  // v4 used "type" in some configs; v5 uses "rope_type".
  if (obj.contains("rope_type") && obj["rope_type"].is_string()) r.rope_type = obj["rope_type"].get<std::string>();
  else if (obj.contains("type") && obj["type"].is_string()) r.rope_type = obj["type"].get<std::string>();
  if (obj.contains("rope_theta") && obj["rope_theta"].is_number()) r.rope_theta = obj["rope_theta"].get<double>();
  else if (theta_fallback) r.rope_theta = *theta_fallback;
  if (obj.contains("partial_rotary_factor") && obj["partial_rotary_factor"].is_number())
    r.partial_rotary_factor = obj["partial_rotary_factor"].get<double>();
  r.raw["rope_type"] = r.rope_type;
  r.raw["rope_theta"] = r.rope_theta;
  return r;
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

PretrainedConfig PretrainedConfig::from_json(const Json& json, const std::filesystem::path& origin) {
  PretrainedConfig c;
  c.path = origin;
  const std::string w = c.where();
  TCPP_CHECK(json.is_object(), ConfigError, w, ": config must be a JSON object");
  c.raw = json;
  c.model_type = json_get<std::string>(json, "model_type", w);
  c.architectures = json_get_or<std::vector<std::string>>(json, "architectures", {}, w);
  auto int_or = [&](const char* k, int64_t fb) { return json_get_or<int64_t>(json, k, fb, w); };
  c.vocab_size = int_or("vocab_size", 0);
  c.hidden_size = int_or("hidden_size", 0);
  c.intermediate_size = int_or("intermediate_size", 0);
  c.num_hidden_layers = int_or("num_hidden_layers", 0);
  c.num_attention_heads = int_or("num_attention_heads", 0);
  c.num_key_value_heads = int_or("num_key_value_heads", c.num_attention_heads);
  c.max_position_embeddings = int_or("max_position_embeddings", 0);
  c.head_dim = int_or("head_dim", c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0);
  c.hidden_act = json_get_or<std::string>(json, "hidden_act", "silu", w);
  c.rms_norm_eps = json_get_or<double>(json, "rms_norm_eps", 1e-6, w);
  c.tie_word_embeddings = json_get_or<bool>(json, "tie_word_embeddings", false, w);
  c.sliding_window = json_get_optional<int64_t>(json, "sliding_window", w);
  c.layer_types = json_get_or<std::vector<std::string>>(json, "layer_types", {}, w);
  c.bos_token_id = json_get_optional<int64_t>(json, "bos_token_id", w);
  c.pad_token_id = json_get_optional<int64_t>(json, "pad_token_id", w);
  if (json.contains("eos_token_id") && !json["eos_token_id"].is_null()) {
    const Json& e = json["eos_token_id"];
    if (e.is_array()) c.eos_token_ids = e.get<std::vector<int64_t>>();
    else c.eos_token_ids = {json_get<int64_t>(json, "eos_token_id", w)};
  }
  // v5 writes "dtype"; v4 wrote "torch_dtype". "auto" and absent mean: the checkpoint's dtype.
  for (const char* key : {"dtype", "torch_dtype"}) {
    if (json.contains(key) && json[key].is_string() && json[key].get<std::string>() != "auto") {
      c.dtype = dtype_from_name(json[key].get<std::string>(), w + ": " + key);
      break;
    }
  }

  // Rotary parameters: v5 rope_parameters wins; else v4 rope_scaling + rope_theta.
  std::optional<double> theta = json_get_optional<double>(json, "rope_theta", w);
  auto partial = json_get_optional<double>(json, "partial_rotary_factor", w);
  if (json.contains("rope_parameters") && !json["rope_parameters"].is_null()) {
    const Json& rp = json["rope_parameters"];
    if (looks_per_layer_type(rp)) {
      for (auto it = rp.begin(); it != rp.end(); ++it)
        c.rope_parameters_by_layer_type[it.key()] = parse_rope(it.value(), theta, w + ": rope_parameters." + it.key());
      c.rope_parameters = c.rope_parameters_by_layer_type.begin()->second;
    } else {
      c.rope_parameters = parse_rope(rp, theta, w + ": rope_parameters");
    }
  } else {
    Json scaling = json.contains("rope_scaling") && json["rope_scaling"].is_object() ? json["rope_scaling"] : Json::object();
    c.rope_parameters = parse_rope(scaling, theta ? theta : std::optional<double>(10000.0), w + ": rope_scaling");
  }
  if (partial && !c.rope_parameters.partial_rotary_factor) {
    c.rope_parameters.partial_rotary_factor = partial;
    c.rope_parameters.raw["partial_rotary_factor"] = *partial;
  }
  return c;
}

PretrainedConfig PretrainedConfig::from_pretrained(const std::filesystem::path& path) {
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
