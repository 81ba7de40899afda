#include "transformers/training/lora.h"

#include <cmath>
#include <random>

#include "transformers/core/autograd.h"
#include "transformers/io/files.h"
#include "transformers/io/json.h"
#include "transformers/io/safetensors.h"
#include "transformers/models/auto.h"
#include "transformers/nn/layers.h"
#include "transformers/ops/ops.h"
#include "transformers/training/causal_lm_trainable.h"

namespace transformers::training {

LoraModel::LoraModel(std::unique_ptr<CausalLM> base, const LoraConfig& config)
    : model_(std::move(base)), config_(config) {
  TCPP_CHECK(model_, ValueError, "lora: no base model");
  TCPP_CHECK(config.r > 0 && config.lora_alpha > 0, ValueError, "lora: r (", config.r,
             ") and lora_alpha (", config.lora_alpha, ") must be positive");
  TCPP_CHECK(config.lora_dropout >= 0.0 && config.lora_dropout < 1.0, ValueError, "lora: lora_dropout ",
             config.lora_dropout, " must be in [0, 1)");
  std::mt19937_64 rng(config.seed);
  for (const auto& [name, module] : model_->named_modules()) {
    auto* linear = dynamic_cast<nn::Linear*>(module);
    if (!linear || !targets_module(name, config.target_modules)) continue;
    auto adapter = std::make_unique<LoraLinear>();
    adapter->module = name;
    adapter->linear = linear;
    adapter->scaling = static_cast<float>(config.lora_alpha / static_cast<double>(config.r));
    adapter->dropout = config.lora_dropout;
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
      const std::string param = lora_key(name, which);
      parameters_.push_back({param, tensor->detach(), grad, uses_weight_decay(param)});
      autograd::set_requires_grad(*tensor, grad);
    }
    adapters_.attach(std::move(adapter));
  }
  TCPP_CHECK(!adapters_.adapters().empty(), ValueError, "lora: no Linear module matches target_modules");
}

LoraModel::~LoraModel() = default;

std::vector<TrainableParameter*> LoraModel::parameters() {
  std::vector<TrainableParameter*> out;
  for (auto& p : parameters_) out.push_back(&p);
  return out;
}

float LoraModel::forward_backward(const Batch& batch, int64_t num_items_in_batch) {
  // Dropout acts in this call only (evaluate and generation see the adapters without it).
  const auto& adapters = adapters_.adapters();
  for (size_t i = 0; i < adapters.size(); ++i) adapters[i]->dropout_key = stream_ * 0x100000001b3ull + (i << 40);
  struct Unset {
    const std::vector<std::unique_ptr<LoraLinear>>& adapters;
    ~Unset() {
      for (const auto& a : adapters) a->dropout_key.reset();
    }
  } unset{adapters};
  return causal_lm_forward_backward(*model_, batch, num_items_in_batch);
}

std::pair<double, int64_t> LoraModel::evaluate(const Batch& batch) {
  return causal_lm_evaluate(*model_, batch);
}

float LoraModel::eval_loss(const Batch& batch) { return causal_lm_eval_loss(*model_, batch); }

double LoraModel::training_loss(const Batch& batch, int64_t num_items_in_batch) {
  return causal_lm_training_loss(*model_, batch, num_items_in_batch);
}

void LoraModel::save_pretrained(const std::filesystem::path& folder) const {
  std::filesystem::create_directories(folder);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& a : adapters_.adapters()) {
    tensors.emplace_back(lora_key(a->module, "lora_A"), a->a.detach());
    tensors.emplace_back(lora_key(a->module, "lora_B"), a->b.detach());
  }
  save_safetensors(folder / "adapter_model.safetensors", tensors, {{"format", "pt"}});
  // The fields of PEFT's LoraConfig as its save_pretrained writes them (sorted keys, nulls and
  // empty patterns included), so that PEFT loads the folder with this configuration.
  // PEFT sets fan_in_fan_out itself for Conv1D targets (GPT-2's c_attn, stored [in, out]) and
  // saves it so; the factors' shapes are the same either way.
  bool fan_in_fan_out = false;
  for (const auto& a : adapters_.adapters())
    for (const nn::ParameterSlot& slot : a->linear->named_parameters())
      fan_in_fan_out = fan_in_fan_out || (slot.name == "weight" && slot.stored_transposed);
  const double alpha = config_.lora_alpha;
  const Json lora_alpha = alpha == std::floor(alpha) ? Json(static_cast<int64_t>(alpha)) : Json(alpha);
  const Json config = {{"alpha_pattern", Json::object()},
                       {"auto_mapping", nullptr},
                       {"base_model_name_or_path", config_.base_model_name_or_path},
                       {"bias", "none"},
                       {"fan_in_fan_out", fan_in_fan_out},
                       {"inference_mode", true},
                       {"init_lora_weights", true},
                       {"layer_replication", nullptr},
                       {"layers_pattern", nullptr},
                       {"layers_to_transform", nullptr},
                       {"loftq_config", Json::object()},
                       {"lora_alpha", lora_alpha},
                       {"lora_dropout", config_.lora_dropout},
                       {"modules_to_save", nullptr},
                       {"peft_type", "LORA"},
                       {"r", config_.r},
                       {"rank_pattern", Json::object()},
                       {"revision", nullptr},
                       {"target_modules", config_.target_modules},
                       {"task_type", "CAUSAL_LM"},
                       {"use_dora", false},
                       {"use_rslora", false}};
  write_file_atomically(folder / "adapter_config.json", config.dump(2) + "\n");
}

std::unique_ptr<LoraModel> load_lora(const std::filesystem::path& base_folder, const LoraConfig& config,
                                     const LoadOptions& options) {
  LoraConfig c = config;
  if (c.base_model_name_or_path.empty()) c.base_model_name_or_path = base_folder.string();
  return std::make_unique<LoraModel>(AutoModelForCausalLM::from_pretrained(base_folder, options), c);
}

}  // namespace transformers::training
