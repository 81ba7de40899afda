#include "transformers/loading/quantization.h"

#include <algorithm>
#include <map>
#include <type_traits>

#include "transformers/core/error.h"
#include "transformers/loading/importance_matrix.h"
#include "transformers/loading/prequantized.h"
#include "transformers/nn/module.h"
#include "transformers/ops/ops.h"

namespace transformers {

namespace {
struct Method {
  const char* name;
  DType dtype;
  bool mix = false;  // q4_k_m: Q6_K for the matrices llama.cpp's rule picks (dtype_for)
};
constexpr Method kMethods[] = {{"q8_0", DType::Q8_0}, {"q4_0", DType::Q4_0}, {"q5_0", DType::Q5_0},
                               {"q5_1", DType::Q5_1}, {"q4_k", DType::Q4_K}, {"q5_k", DType::Q5_K},
                               {"q6_k", DType::Q6_K}, {"q4_k_m", DType::Q4_K, true}};
constexpr const char* kMethodList = "q8_0, q4_0, q5_0, q5_1, q4_k, q5_k, q6_k, q4_k_m, bitsandbytes";
constexpr const char* kBitsAndBytes = "bitsandbytes";

// The --quantization names of bitsandbytes configs (v5 serve's bnb-4bit is nf4).
struct BnbPreset {
  const char* name;
  bool four_bit;
  const char* quant_type;
};
constexpr BnbPreset kBnbPresets[] = {
    {"bnb-4bit", true, "nf4"}, {"bnb-fp4", true, "fp4"}, {"bnb-8bit", false, "fp4"}};
constexpr const char* kNameList = "q8_0, q4_0, q5_0, q5_1, q4_k, q5_k, q6_k, q4_k_m, bnb-4bit, bnb-fp4, bnb-8bit";

const Method* find_method(std::string_view name) {
  for (const auto& m : kMethods)
    if (name == m.name) return &m;
  return nullptr;
}

// quantization_config[key]: a list of module names, or nullopt when absent or null.
std::optional<std::vector<std::string>> name_list(const Json& q, const char* key,
                                                  const std::string& where) {
  if (!q.contains(key) || q[key].is_null()) return std::nullopt;
  TCPP_CHECK(q[key].is_array(), ConfigError, where, ": quantization_config.", key,
             " must be a list of names");
  std::vector<std::string> names;
  for (const auto& n : q[key]) {
    TCPP_CHECK(n.is_string(), ConfigError, where, ": quantization_config.", key,
               " holds a non-string");
    names.push_back(n.get<std::string>());
  }
  return names;
}

// v5's match: the module path equals `key` or contains "key." (on dotted components here).
bool module_matches(const std::string& module, const std::string& key) {
  const std::string path = "." + module + ".";
  return path.find("." + key + ".") != std::string::npos;
}
}  // namespace

BitsAndBytesConfig::operator QuantizationConfig() const {
  return QuantizationConfig{.quant_method = kBitsAndBytes, .bitsandbytes = *this};
}

void BitsAndBytesConfig::validate(const std::string& where) const {
  TCPP_CHECK(
      !(load_in_4bit && load_in_8bit), ValueError, where,
      ": load_in_4bit and load_in_8bit are both true, but only one can be used at the same time");
  TCPP_CHECK(load_in_4bit || load_in_8bit, ValueError, where,
             ": bitsandbytes needs load_in_4bit or load_in_8bit set to true (both are false)");
  TCPP_CHECK(bnb_4bit_quant_type == "nf4" || bnb_4bit_quant_type == "fp4", ValueError, where,
             ": bnb_4bit_quant_type '", bnb_4bit_quant_type, "' is not supported (use nf4 or fp4)");
  TCPP_CHECK(
      is_floating(dtype_from_name(bnb_4bit_compute_dtype, where + ": bnb_4bit_compute_dtype")),
      ValueError, where, ": bnb_4bit_compute_dtype '", bnb_4bit_compute_dtype,
      "' is not a float dtype");
  TCPP_CHECK(llm_int8_threshold >= 0.0f, ValueError, where,
             ": llm_int8_threshold must be >= 0 (0 disables outliers)");
  TCPP_CHECK(!(load_in_8bit && llm_int8_has_fp16_weight), NotImplementedError, where,
             ": llm_int8_has_fp16_weight=true is bitsandbytes' training-time mode (f16 master weights "
             "re-quantized at every step); only inference weights (false) are supported");
}

DType QuantizationConfig::weight_dtype() const {
  if (quant_method == kBitsAndBytes) {
    TCPP_CHECK(bitsandbytes, ValueError,
               "quantization_config: quant_method 'bitsandbytes' without its settings");
    const BitsAndBytesConfig& b = *bitsandbytes;
    b.validate("quantization_config");
    if (b.load_in_8bit) return DType::LLM_INT8;
    return b.bnb_4bit_quant_type == "nf4" ? DType::NF4 : DType::FP4;
  }
  const Method* m = find_method(quant_method);
  TCPP_CHECK(m, ValueError, "quantization_config: quant_method '", quant_method, "' is not supported (use ",
             kMethodList, ")");
  return m->dtype;
}

Tensor QuantizationConfig::quantize(const Tensor& t, DType dtype, const std::string& name) const {
  if (importance && !bitsandbytes && is_block_dtype(dtype))
    if (auto weights = importance->importance(name, t.shape())) return ops::quantize_weighted(t, dtype, *weights);
  if (dtype == DType::LLM_INT8 && bitsandbytes) return ops::quantize_llm_int8(t, bitsandbytes->llm_int8_threshold);
  if ((dtype == DType::NF4 || dtype == DType::FP4) && bitsandbytes && bitsandbytes->bnb_4bit_use_double_quant)
    return ops::bnb_double_quantize(ops::cast(t, dtype));
  return ops::cast(t, dtype);
}

std::string QuantizationConfig::label() const {
  if (quant_method != kBitsAndBytes || !bitsandbytes) return quant_method;
  return std::string("bitsandbytes ") +
         (bitsandbytes->load_in_8bit ? "int8" : bitsandbytes->bnb_4bit_quant_type);
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

DType fallback_for_row(DType dt, int64_t columns) {
  if (columns % dtype_block_elements(dt) == 0) return dt;
  DType fallback = DType::F32;
  if (dt == DType::Q4_K) fallback = DType::Q5_0;
  if (dt == DType::Q5_K) fallback = DType::Q5_1;
  if (dt == DType::Q6_K) fallback = DType::Q8_0;
  return fallback != DType::F32 && columns % dtype_block_elements(fallback) == 0 ? fallback : DType::F32;
}

DType QuantizationConfig::dtype_for(std::string_view name, bool output_table, int64_t num_layers,
                                    int64_t columns) const {
  const DType base = weight_dtype();
  const Method* m = find_method(quant_method);
  if (!m || !m->mix) return fallback_for_row(base, columns);
  // The output matrix, or the embedding table a tied lm_head shares, gets Q6_K.
  if (output_table || name.find("lm_head") != std::string_view::npos) return fallback_for_row(DType::Q6_K, columns);
  const bool v = name.find(".v_proj.") != std::string_view::npos;
  const bool down = name.find(".down_proj.") != std::string_view::npos;
  const int64_t layer = layer_index(name);
  if ((v || down) && layer >= 0 && more_bits_layer(layer, num_layers)) return fallback_for_row(DType::Q6_K, columns);
  return fallback_for_row(base, columns);
}

std::vector<std::string> QuantizationConfig::skipped_modules() const {
  if (bitsandbytes && bitsandbytes->llm_int8_skip_modules)
    return *bitsandbytes->llm_int8_skip_modules;
  return modules_to_not_convert ? *modules_to_not_convert : std::vector<std::string>{"lm_head"};
}

QuantizationConfig QuantizationConfig::from_name(std::string_view name, const std::string& where) {
  for (const auto& p : kBnbPresets)
    if (name == p.name)
      return BitsAndBytesConfig{.load_in_8bit = !p.four_bit,
                                .load_in_4bit = p.four_bit,
                                .bnb_4bit_quant_type = p.quant_type};
  TCPP_CHECK(find_method(name), ValueError, where, ": unknown quantization '", name, "' (use ",
             kNameList, ")");
  QuantizationConfig c;
  c.quant_method = std::string(name);
  return c;
}

Json QuantizationConfig::to_json() const {
  if (quant_method == kBitsAndBytes && bitsandbytes) {
    // As Transformers' BitsAndBytesConfig.to_dict writes it.
    const BitsAndBytesConfig& b = *bitsandbytes;
    Json j = {{"quant_method", kBitsAndBytes},
              {"_load_in_4bit", b.load_in_4bit},
              {"_load_in_8bit", b.load_in_8bit},
              {"load_in_4bit", b.load_in_4bit},
              {"load_in_8bit", b.load_in_8bit},
              {"bnb_4bit_compute_dtype", b.bnb_4bit_compute_dtype},
              {"bnb_4bit_quant_storage", "uint8"},
              {"bnb_4bit_quant_type", b.bnb_4bit_quant_type},
              {"bnb_4bit_use_double_quant", b.bnb_4bit_use_double_quant},
              {"llm_int8_enable_fp32_cpu_offload", false},
              {"llm_int8_has_fp16_weight", b.llm_int8_has_fp16_weight},
              {"llm_int8_threshold", b.llm_int8_threshold},
              {"llm_int8_skip_modules", nullptr}};
    if (b.llm_int8_skip_modules) j["llm_int8_skip_modules"] = *b.llm_int8_skip_modules;
    return j;
  }
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
  if (fallback_for_row(config.weight_dtype(), slot.shape.back()) == DType::F32) return QuantizeDecision::NotWholeBlocks;
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
  std::map<const void*, int> sharing;  // a table shared with another parameter is tied to the output
  for (const auto& p : params) {
    layers = std::max(layers, layer_index(p.name) + 1);
    if (p.tensor->defined()) ++sharing[p.tensor->raw_data()];
  }
  for (const auto& p : params) {
    if (!p.tensor->defined() || quantize_decision(config, p) != QuantizeDecision::Quantize) continue;
    const void* key = p.tensor->raw_data();
    auto it = done.find(key);
    if (it == done.end())
      it = done.emplace(key, config.quantize(*p.tensor,
                                             config.dtype_for(p.name, p.lookup_table && sharing[key] > 1, layers,
                                                              p.tensor->size(-1)),
                                             p.name))
               .first;
    *p.tensor = it->second;
  }
  return done.size();
}

QuantizationConfig bitsandbytes_from_json(const Json& q, const std::string& where) {
  TCPP_CHECK(q.is_object(), ConfigError, where, ": quantization_config must be an object");
  BitsAndBytesConfig b;
  auto read = [&](const char* key, auto& field, const char* what) {
    if (!q.contains(key) || q[key].is_null()) return;
    using T = std::decay_t<decltype(field)>;
    bool ok;
    if constexpr (std::is_same_v<T, bool>)
      ok = q[key].is_boolean();
    else if constexpr (std::is_same_v<T, float>)
      ok = q[key].is_number();
    else
      ok = q[key].is_string();
    TCPP_CHECK(ok, ConfigError, where, ": quantization_config.", key, " must be ", what);
    field = q[key].get<T>();
  };
  read("load_in_4bit", b.load_in_4bit, "true or false");
  read("load_in_8bit", b.load_in_8bit, "true or false");
  read("bnb_4bit_quant_type", b.bnb_4bit_quant_type, "a string (nf4 or fp4)");
  read("bnb_4bit_use_double_quant", b.bnb_4bit_use_double_quant, "true or false");
  read("bnb_4bit_compute_dtype", b.bnb_4bit_compute_dtype, "a dtype name");
  read("llm_int8_threshold", b.llm_int8_threshold, "a number");
  read("llm_int8_has_fp16_weight", b.llm_int8_has_fp16_weight, "true or false");
  b.llm_int8_skip_modules = name_list(q, "llm_int8_skip_modules", where);
  b.validate(where + ": quantization_config");
  return b;
}

std::optional<QuantizationConfig> checkpoint_quantization(const Json& config_json,
                                                          const std::string& where) {
  if (!config_json.is_object() || !config_json.contains("quantization_config") ||
      config_json["quantization_config"].is_null())
    return std::nullopt;
  const Json& q = config_json["quantization_config"];
  TCPP_CHECK(q.is_object() && q.contains("quant_method") && q["quant_method"].is_string(), ConfigError, where,
             ": quantization_config must be an object with a string 'quant_method'");
  const std::string method = q["quant_method"].get<std::string>();
  if (loading::is_prequantized_method(method)) return std::nullopt;  // loading/prequantized.h
  TCPP_CHECK(find_method(method), NotImplementedError, where,
             ": quantization_config.quant_method '", method,
             "' is not supported (pre-quantized checkpoints load in ", kMethodList,
             ", gptq, awq, fp8, mxfp4, compressed-tensors only); load the unquantized checkpoint, with a quantization option if wanted");
  QuantizationConfig c;
  c.quant_method = method;
  c.modules_to_not_convert = name_list(q, "modules_to_not_convert", where);
  if (q.contains("quantize_embeddings")) {
    TCPP_CHECK(q["quantize_embeddings"].is_boolean(), ConfigError, where,
               ": quantization_config.quantize_embeddings must be true or false");
    c.quantize_embeddings = q["quantize_embeddings"].get<bool>();
  }
  return c;
}

}  // namespace transformers
