#include "transformers/training/peft_adapter.h"

#include <cmath>
#include <map>
#include <regex>

#include "transformers/io/json.h"
#include "transformers/io/safetensors.h"
#include "transformers/ops/ops.h"

namespace transformers::training {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "base_model.model.";
constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";

// PEFT's target_modules: a list matched against the end of a module name (a whole name component),
// or one string matched as a regular expression against the whole name.
class TargetModules {
 public:
  TargetModules(const Json& config, const std::string& where) {
    const auto it = config.find("target_modules");
    if (it == config.end() || it->is_null()) return;
    TCPP_CHECK(it->is_string() || it->is_array(), ConfigError, where,
               ": target_modules must be a list of names or a regular expression");
    if (it->is_string()) {
      try {
        pattern_ = std::regex(it->get<std::string>());
      } catch (const std::regex_error&) {
        throw ConfigError(detail::concat(where, ": target_modules '", it->get<std::string>(),
                                         "' is not a valid regular expression"));
      }
      return;
    }
    for (const auto& name : *it) {
      TCPP_CHECK(name.is_string(), ConfigError, where, ": target_modules entries must be strings");
      names_.push_back(name.get<std::string>());
    }
  }
  bool matches(const std::string& module) const {
    if (pattern_) return std::regex_match(module, *pattern_);
    return targets_module(module, names_);
  }

 private:
  std::optional<std::regex> pattern_;
  std::vector<std::string> names_;
};

// "base_model.model.<module>.lora_A.weight" -> {module, "lora_A"}; nullopt for any other key.
std::optional<std::pair<std::string, std::string>> parse_key(const std::string& key) {
  const std::string suffix = ".weight";
  if (!key.starts_with(kPrefix) || !key.ends_with(suffix)) return std::nullopt;
  const std::string inner = key.substr(std::string(kPrefix).size(), key.size() - std::string(kPrefix).size() - suffix.size());
  for (const char* which : {"lora_A", "lora_B"}) {
    const std::string tail = std::string(".") + which;
    if (inner.size() > tail.size() && inner.ends_with(tail))
      return std::pair{inner.substr(0, inner.size() - tail.size()), std::string(which)};
  }
  return std::nullopt;
}

void refuse_unsupported(const Json& config, const std::string& where) {
  const auto type = json_get<std::string>(config, "peft_type", where);
  TCPP_CHECK(type == "LORA", NotImplementedError, where, ": peft_type '", type, "' (only LORA adapters are supported)");
  TCPP_CHECK(!json_get_or<bool>(config, "use_dora", false, where), NotImplementedError, where,
             ": use_dora (DoRA adapters are not supported)");
  for (const char* pattern : {"rank_pattern", "alpha_pattern"}) {
    const auto it = config.find(pattern);
    TCPP_CHECK(it == config.end() || it->is_null() || it->empty(), NotImplementedError, where, ": ", pattern,
               " (per-module ranks or alphas are not supported)");
  }
  const auto modules_to_save = config.find("modules_to_save");
  TCPP_CHECK(modules_to_save == config.end() || modules_to_save->is_null() || modules_to_save->empty(),
             NotImplementedError, where, ": modules_to_save (fully trained extra modules are not supported)");
}

}  // namespace

bool targets_module(const std::string& module, const std::vector<std::string>& targets) {
  for (const auto& t : targets)
    if (module == t || module.ends_with("." + t)) return true;
  return false;
}

std::string lora_key(const std::string& module, const char* which) {
  return kPrefix + module + "." + which + ".weight";
}

Tensor dropout_mask(const Shape& shape, double p, uint64_t key, DType dtype) {
  Tensor mask = Tensor::zeros(shape, DType::F32);
  float* m = mask.data<float>();
  const float kept = static_cast<float>(1.0 / (1.0 - p));
  for (int64_t i = 0; i < mask.numel(); ++i) {
    uint64_t z = key + static_cast<uint64_t>(i + 1) * 0x9e3779b97f4a7c15ull;  // splitmix64
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const double u = static_cast<double>(z >> 11) * 0x1.0p-53;  // uniform in [0, 1)
    m[i] = u < p ? 0.0f : kept;
  }
  return dtype == DType::F32 ? mask : ops::cast(mask, dtype);
}

void LoraLinear::add_to(const Tensor& x, Tensor& y) const {
  const bool drop = dropout > 0.0 && dropout_key.has_value();
  Tensor u = ops::linear(ops::linear(drop ? ops::mul(x, dropout_mask(x.shape(), dropout, *dropout_key, x.dtype())) : x, a), b);
  ops::scale_(u, scaling);
  ops::add_(y, u);
}

AttachedAdapters::~AttachedAdapters() {
  for (auto& a : adapters_) a->linear->adapter = nullptr;
}

void AttachedAdapters::attach(std::unique_ptr<LoraLinear> adapter) {
  TCPP_CHECK(adapter->linear->adapter == nullptr, ValueError, adapter->module, ": already has an adapter attached");
  adapter->linear->adapter = adapter.get();
  adapters_.push_back(std::move(adapter));
}

void check_adapter_folder(const fs::path& adapter_folder) {
  for (const char* file : {kConfigFile, kWeightsFile})
    TCPP_CHECK(fs::is_regular_file(adapter_folder / file), IoError, (adapter_folder / file).string(),
               ": not found (not a PEFT adapter folder)");
}

std::vector<std::unique_ptr<LoraLinear>> read_lora_adapter(const CausalLM& model, const fs::path& adapter_folder) {
  check_adapter_folder(adapter_folder);
  const fs::path config_path = adapter_folder / kConfigFile, weights_path = adapter_folder / kWeightsFile;
  const std::string where = config_path.string(), file_name = weights_path.string();
  const Json config = read_json_file(config_path);
  refuse_unsupported(config, where);
  const auto r = json_get<int64_t>(config, "r", where);
  const auto alpha = json_get<double>(config, "lora_alpha", where);
  TCPP_CHECK(r > 0 && alpha > 0, ConfigError, where, ": r (", r, ") and lora_alpha (", alpha, ") must be positive");
  const bool rslora = json_get_or<bool>(config, "use_rslora", false, where);
  const float scaling = static_cast<float>(rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r));
  const TargetModules targets(config, where);

  std::map<std::string, nn::Linear*> linears;
  for (const auto& [name, module] : model.named_modules())
    if (auto* linear = dynamic_cast<nn::Linear*>(module)) linears[name] = linear;

  const auto file = SafetensorsFile::open(weights_path);
  std::map<std::string, std::unique_ptr<LoraLinear>> by_module;
  for (const std::string& key : file->names()) {
    const auto parsed = parse_key(key);
    TCPP_CHECK(parsed, FormatError, file_name, ": unknown key '", key,
               "' (expected base_model.model.<module>.lora_A.weight or .lora_B.weight)");
    const auto& [module, which] = *parsed;
    const auto linear = linears.find(module);
    TCPP_CHECK(linear != linears.end(), ValueError, file_name, ": key '", key, "' adapts '", module,
               "', which is not a Linear module of the model");
    auto& adapter = by_module[module];
    if (!adapter) {
      adapter = std::make_unique<LoraLinear>();
      adapter->module = module;
      adapter->linear = linear->second;
      adapter->scaling = scaling;
    }
    const Tensor t = file->tensor(key);
    const int64_t expected = which == "lora_A" ? linear->second->in_features() : linear->second->out_features();
    const Shape want = which == "lora_A" ? Shape{r, expected} : Shape{expected, r};
    TCPP_CHECK(t.shape() == want, ShapeError, file_name, ": '", key, "' has shape ", t.describe(), ", expected [",
               want[0], ", ", want[1], "] (r = ", r, " from ", kConfigFile, ", Linear ", module, " is [",
               linear->second->out_features(), ", ", linear->second->in_features(), "])");
    (which == "lora_A" ? adapter->a : adapter->b) = ops::cast(t, DType::F32);
  }
  TCPP_CHECK(!by_module.empty(), ValueError, file_name, ": holds no LoRA factors");

  const bool layers_chosen = config.contains("layers_to_transform") && !config.at("layers_to_transform").is_null();
  std::vector<std::unique_ptr<LoraLinear>> adapters;
  for (auto& [module, adapter] : by_module) {
    TCPP_CHECK(adapter->a.defined() && adapter->b.defined(), FormatError, file_name, ": '",
               lora_key(module, adapter->a.defined() ? "lora_B" : "lora_A"), "' is missing (the other factor is present)");
    adapters.push_back(std::move(adapter));
  }
  if (!layers_chosen)
    for (const auto& [module, linear] : linears)
      TCPP_CHECK(!targets.matches(module) || by_module.count(module), ValueError, file_name, ": has no '",
                 lora_key(module, "lora_A"), "' for target module ", module, " (target_modules of ", kConfigFile, ")");
  return adapters;
}

std::unique_ptr<AttachedAdapters> attach_adapter(CausalLM& model, const fs::path& adapter_folder) {
  auto attached = std::make_unique<AttachedAdapters>();
  for (auto& adapter : read_lora_adapter(model, adapter_folder)) attached->attach(std::move(adapter));
  return attached;
}

void merge_adapter(CausalLM& model, const fs::path& adapter_folder) {
  const auto tied = model.tied_weights();
  for (const auto& adapter : read_lora_adapter(model, adapter_folder)) {
    nn::Linear& linear = *adapter->linear;
    // A tied weight (an LM head sharing the embeddings) is saved through its source only: a merge
    // into it alone would be lost on save, and into both would change the embeddings too.
    for (const auto& [target, source] : tied)
      TCPP_CHECK(target != adapter->module + ".weight" && source != adapter->module + ".weight", NotImplementedError,
                 adapter_folder.string(), ": cannot merge into ", adapter->module, ", whose weight is tied to ",
                 target == adapter->module + ".weight" ? source : target, " (apply it at run time with --adapter)");
    const DType stored = linear.weight.dtype();
    TCPP_CHECK(is_floating(stored), NotImplementedError, adapter_folder.string(), ": cannot merge into ",
               adapter->module, ", whose weight is ", linear.weight.describe(), " (load the base unquantized)");
    // An owned copy: never write into the mapped base.
    Tensor w = stored == DType::F32 ? linear.weight.clone() : ops::cast(linear.weight, DType::F32);
    // s · B·A as [out, r] · ([in, r])ᵀ
    Tensor delta = ops::linear(adapter->b, adapter->a.transpose(0, 1).contiguous());
    ops::scale_(delta, adapter->scaling);
    ops::add_(w, delta);
    linear.weight = stored == DType::F32 ? w : ops::cast(w, stored);
  }
}

}  // namespace transformers::training
