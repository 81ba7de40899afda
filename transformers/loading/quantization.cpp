#include "transformers/loading/quantization.h"

#include <algorithm>
#include <map>

#include "transformers/core/error.h"
#include "transformers/nn/module.h"
#include "transformers/ops/ops.h"

namespace transformers {

namespace {
struct Method {
  const char* name;
  DType dtype;
  bool mix = false;  // q4_k_m: Q6_K for the matrices llama.cpp's rule picks (dtype_for)
};
constexpr Method kMethods[] = {{"q8_0", DType::Q8_0}, {"q4_0", DType::Q4_0}, {"q4_k", DType::Q4_K},
                               {"q5_k", DType::Q5_K}, {"q6_k", DType::Q6_K}, {"q4_k_m", DType::Q4_K, true}};
constexpr const char* kMethodList = "q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m";

const Method* find_method(std::string_view name) {
  for (const auto& m : kMethods)
    if (name == m.name) return &m;
  return nullptr;
}

// v5's match: the module path equals `key` or contains "key." (on dotted components here).
bool module_matches(const std::string& module, const std::string& key) {
  const std::string path = "." + module + ".";
  return path.find("." + key + ".") != std::string::npos;
}
}  // namespace

DType QuantizationConfig::weight_dtype() const {
  const Method* m = find_method(quant_method);
  TCPP_CHECK(m, ValueError, "quantization_config: quant_method '", quant_method, "' is not supported (use ",
             kMethodList, ")");
  return m->dtype;
}

bool more_bits_layer(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

int64_t layer_index(std::string_view name) {
  const auto at = name.find(".layers.");
  if (at == std::string_view::npos) return -1;
  int64_t i = 0;
  size_t k = at + 8;
  if (k >= name.size() || name[k] < '0' || name[k] > '9') return -1;
  for (; k < name.size() && name[k] >= '0' && name[k] <= '9'; ++k) i = i * 10 + (name[k] - '0');
  return i;
}

DType QuantizationConfig::dtype_for(std::string_view name, bool lookup_table, int64_t num_layers) const {
  const DType base = weight_dtype();
  if (!find_method(quant_method)->mix) return base;
  // The output matrix, and an embedding table (which a tied lm_head shares), get Q6_K.
  if (lookup_table || name.find("lm_head") != std::string_view::npos) return DType::Q6_K;
  const bool v = name.find(".v_proj.") != std::string_view::npos;
  const bool down = name.find(".down_proj.") != std::string_view::npos;
  const int64_t layer = layer_index(name);
  if ((v || down) && layer >= 0 && more_bits_layer(layer, num_layers)) return DType::Q6_K;
  return base;
}

std::vector<std::string> QuantizationConfig::skipped_modules() const {
  return modules_to_not_convert ? *modules_to_not_convert : std::vector<std::string>{"lm_head"};
}

QuantizationConfig QuantizationConfig::from_name(std::string_view name, const std::string& where) {
  TCPP_CHECK(find_method(name), ValueError, where, ": unknown quantization '", name, "' (use ", kMethodList, ")");
  QuantizationConfig c;
  c.quant_method = std::string(name);
  return c;
}

Json QuantizationConfig::to_json() const {
  Json j = {{"quant_method", quant_method}, {"modules_to_not_convert", skipped_modules()}};
  if (quantize_embeddings) j["quantize_embeddings"] = true;
  return j;
}

QuantizeDecision quantize_decision(const QuantizationConfig& config, const nn::ParameterSlot& slot) {
  if (slot.role != nn::ParamRole::Matrix || slot.shape.size() < 2) return QuantizeDecision::NotMatrix;
  if (slot.lookup_table && !config.quantize_embeddings) return QuantizeDecision::EmbeddingTable;
  const auto dot = slot.name.rfind('.');
  const std::string module = dot == std::string::npos ? slot.name : slot.name.substr(0, dot);
  for (const auto& key : config.skipped_modules())
    if (module_matches(module, key)) return QuantizeDecision::SkippedModule;
  if (slot.shape.back() % dtype_block_elements(config.weight_dtype()) != 0) return QuantizeDecision::NotWholeBlocks;
  return QuantizeDecision::Quantize;
}

const char* quantize_decision_name(QuantizeDecision d) {
  switch (d) {
    case QuantizeDecision::Quantize: return "quantized";
    case QuantizeDecision::NotMatrix: return "not a matrix";
    case QuantizeDecision::EmbeddingTable: return "embedding table";
    case QuantizeDecision::SkippedModule: return "in modules_to_not_convert";
    case QuantizeDecision::NotWholeBlocks: return "rows are not whole blocks";
  }
  return "?";
}

size_t quantize_parameters(nn::Module& module, const QuantizationConfig& config) {
  // A tied pair (lm_head and the embedding) is one tensor: quantized once, still shared.
  std::map<const void*, Tensor> done;
  const auto params = module.named_parameters();
  int64_t layers = 0;
  for (const auto& p : params) layers = std::max(layers, layer_index(p.name) + 1);
  for (const auto& p : params) {
    if (!p.tensor->defined() || quantize_decision(config, p) != QuantizeDecision::Quantize) continue;
    const void* key = p.tensor->raw_data();
    auto it = done.find(key);
    if (it == done.end())
      it = done.emplace(key, ops::cast(*p.tensor, config.dtype_for(p.name, p.lookup_table, layers))).first;
    *p.tensor = it->second;
  }
  return done.size();
}

std::optional<QuantizationConfig> checkpoint_quantization(const Json& config_json, const std::string& where) {
  if (!config_json.is_object() || !config_json.contains("quantization_config") ||
      config_json["quantization_config"].is_null())
    return std::nullopt;
  const Json& q = config_json["quantization_config"];
  TCPP_CHECK(q.is_object() && q.contains("quant_method") && q["quant_method"].is_string(), ConfigError, where,
             ": quantization_config must be an object with a string 'quant_method'");
  const std::string method = q["quant_method"].get<std::string>();
  TCPP_CHECK(find_method(method), NotImplementedError, where, ": quantization_config.quant_method '", method,
             "' is not supported (pre-quantized checkpoints load in ", kMethodList,
             " only); load the unquantized checkpoint, with a quantization option if wanted");
  QuantizationConfig c;
  c.quant_method = method;
  if (q.contains("modules_to_not_convert") && !q["modules_to_not_convert"].is_null()) {
    TCPP_CHECK(q["modules_to_not_convert"].is_array(), ConfigError, where,
               ": quantization_config.modules_to_not_convert must be a list of names");
    std::vector<std::string> names;
    for (const auto& n : q["modules_to_not_convert"]) {
      TCPP_CHECK(n.is_string(), ConfigError, where, ": quantization_config.modules_to_not_convert holds a non-string");
      names.push_back(n.get<std::string>());
    }
    c.modules_to_not_convert = names;
  }
  if (q.contains("quantize_embeddings")) {
    TCPP_CHECK(q["quantize_embeddings"].is_boolean(), ConfigError, where,
               ": quantization_config.quantize_embeddings must be true or false");
    c.quantize_embeddings = q["quantize_embeddings"].get<bool>();
  }
  return c;
}

}  // namespace transformers
