#include "transformers/training/lora.h"

#include <cmath>
#include <fstream>
#include <random>

#include "transformers/core/autograd.h"
#include "transformers/io/json.h"
#include "transformers/io/safetensors.h"
#include "transformers/models/auto.h"
#include "transformers/nn/layers.h"
#include "transformers/ops/ops.h"
#include "transformers/training/causal_lm_trainable.h"

namespace transformers::training {

namespace {

std::string key(const std::string& module, const char* which) {
  return "base_model.model." + module + "." + which + ".weight";
}

bool targeted(const std::string& module, const std::vector<std::string>& targets) {
  for (const auto& t : targets)
    if (module == t || module.ends_with("." + t)) return true;
  return false;
}

// s · B·A as an f32 [out, in] matrix.
Tensor delta(const Tensor& a, const Tensor& b, double scaling) {
  Tensor d = ops::linear(b, a.transpose(0, 1).contiguous());  // [out, r] · ([in, r])ᵀ
  ops::scale_(d, static_cast<float>(scaling));
  return d;
}

}  // namespace

struct LoraModel::Adapter : nn::LinearAdapter {
  std::string module;
  nn::Linear* linear = nullptr;
  Tensor a, b;  // leaves: [r, in], [out, r]
  float scaling = 1.0f;
  void add_to(const Tensor& x, Tensor& y) const override {
    Tensor u = ops::linear(ops::linear(x, a), b);
    ops::scale_(u, scaling);
    ops::add_(y, u);
  }
};

LoraModel::LoraModel(std::unique_ptr<CausalLM> base, const LoraConfig& config)
    : model_(std::move(base)), config_(config) {
  TCPP_CHECK(model_, ValueError, "lora: no base model");
  TCPP_CHECK(config.r > 0 && config.lora_alpha > 0, ValueError, "lora: r (", config.r,
             ") and lora_alpha (", config.lora_alpha, ") must be positive");
  TCPP_CHECK(config.lora_dropout == 0.0, NotImplementedError, "lora: lora_dropout ",
             config.lora_dropout, " is not supported (only 0)");
  std::mt19937_64 rng(config.seed);
  for (const auto& [name, module] : model_->named_modules()) {
    auto* linear = dynamic_cast<nn::Linear*>(module);
    if (!linear || !targeted(name, config.target_modules)) continue;
    auto adapter = std::make_unique<Adapter>();
    adapter->module = name;
    adapter->linear = linear;
    adapter->scaling = static_cast<float>(config.lora_alpha / static_cast<double>(config.r));
    const int64_t in = linear->in_features(), out = linear->out_features();
    std::uniform_real_distribution<float> u(-1.0f / std::sqrt(static_cast<float>(in)),
                                            1.0f / std::sqrt(static_cast<float>(in)));
    std::vector<float> a(static_cast<size_t>(config.r * in));
    for (float& v : a) v = u(rng);
    adapter->a = Tensor::from_values(a, {config.r, in});
    adapter->b = Tensor::zeros({out, config.r}, DType::F32);
    for (auto [tensor, which] :
         {std::pair{&adapter->a, "lora_A"}, std::pair{&adapter->b, "lora_B"}}) {
      Tensor grad = Tensor::zeros(tensor->shape(), DType::F32);
      const std::string param = key(name, which);
      parameters_.push_back({param, tensor->detach(), grad, uses_weight_decay(param)});
      autograd::set_requires_grad(*tensor, grad);
    }
    linear->adapter = adapter.get();
    adapters_.push_back(std::move(adapter));
  }
  TCPP_CHECK(!adapters_.empty(), ValueError, "lora: no Linear module matches target_modules");
}

LoraModel::~LoraModel() {
  for (auto& a : adapters_) a->linear->adapter = nullptr;
}

std::vector<TrainableParameter*> LoraModel::parameters() {
  std::vector<TrainableParameter*> out;
  for (auto& p : parameters_) out.push_back(&p);
  return out;
}

float LoraModel::forward_backward(const Batch& batch, int64_t num_items_in_batch) {
  return causal_lm_forward_backward(*model_, batch, num_items_in_batch);
}

std::pair<double, int64_t> LoraModel::evaluate(const Batch& batch) {
  return causal_lm_evaluate(*model_, batch);
}

void LoraModel::save_pretrained(const std::filesystem::path& folder) const {
  std::filesystem::create_directories(folder);
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::vector<std::string> modules;
  for (const auto& a : adapters_) {
    tensors.emplace_back(key(a->module, "lora_A"), a->a.detach());
    tensors.emplace_back(key(a->module, "lora_B"), a->b.detach());
  }
  save_safetensors(folder / "adapter_model.safetensors", tensors, {{"format", "pt"}});
  const Json config = {{"peft_type", "LORA"},
                       {"task_type", "CAUSAL_LM"},
                       {"r", config_.r},
                       {"lora_alpha", config_.lora_alpha},
                       {"lora_dropout", config_.lora_dropout},
                       {"target_modules", config_.target_modules},
                       {"bias", "none"},
                       {"fan_in_fan_out", false},
                       {"inference_mode", true},
                       {"base_model_name_or_path", config_.base_model_name_or_path}};
  std::ofstream(folder / "adapter_config.json") << config.dump(2) << "\n";
}

std::unique_ptr<LoraModel> load_lora(const std::filesystem::path& base_folder,
                                     const LoraConfig& config) {
  LoraConfig c = config;
  if (c.base_model_name_or_path.empty()) c.base_model_name_or_path = base_folder.string();
  return std::make_unique<LoraModel>(AutoModelForCausalLM::from_pretrained(base_folder), c);
}

void merge_adapter(CausalLM& model, const std::filesystem::path& adapter_folder) {
  const Json config = read_json_file(adapter_folder / "adapter_config.json");
  const double r = config.at("r").get<double>(), alpha = config.at("lora_alpha").get<double>();
  const auto file = SafetensorsFile::open(adapter_folder / "adapter_model.safetensors");
  int64_t merged = 0;
  for (const auto& [name, module] : model.named_modules()) {
    auto* linear = dynamic_cast<nn::Linear*>(module);
    if (!linear || !file->contains(key(name, "lora_A"))) continue;
    const Tensor a = ops::cast(file->tensor(key(name, "lora_A")), DType::F32);
    const Tensor b = ops::cast(file->tensor(key(name, "lora_B")), DType::F32);
    TCPP_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == linear->in_features() &&
                   b.size(0) == linear->out_features() && a.size(0) == b.size(1),
               ValueError, adapter_folder.string(), ": adapter of ", name, " (A ", a.describe(),
               ", B ", b.describe(), ") does not fit ", linear->weight.describe());
    Tensor w = ops::cast(linear->weight, DType::F32);  // an owned copy
    ops::add_(w, delta(a, b, alpha / r));
    linear->weight = w;
    ++merged;
  }
  TCPP_CHECK(merged > 0, ValueError, adapter_folder.string(),
             ": no adapted module of the adapter is in the model");
  model.dtype = DType::F32;
}

}  // namespace transformers::training
