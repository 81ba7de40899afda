// LoRA adapters in PEFT's saved layout, read back onto a model: adapter_config.json (peft_type
// "LORA", r, lora_alpha, target_modules, use_rslora) and adapter_model.safetensors holding
// base_model.model.<module>.lora_A.weight [r, in] and .lora_B.weight [out, r] for each adapted
// Linear. An adapter is either attached (applied at run time, y += s · B (A x), the base weights
// untouched and still mapped) or merged (W += s · B·A), with s = lora_alpha / r (lora_alpha /
// sqrt(r) under use_rslora). The layer names are the model's module names (the checkpoint's for the
// architectures whose loading renames no Linear).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transformers/models/causal_lm.h"
#include "transformers/nn/layers.h"

namespace transformers::training {

// The state_dict key PEFT writes for one factor: base_model.model.<module>.<which>.weight.
std::string lora_key(const std::string& module, const char* which);

// PEFT's list form of target_modules: `module` is one of them or ends with "." + one of them.
bool targets_module(const std::string& module, const std::vector<std::string>& targets);

// Inverted dropout's mask for `shape`: each element kept (value 1 / (1 - p)) or dropped (0) with
// probability p, drawn from a counter-based generator (splitmix64 of key + element index), so a
// mask is a function of its key alone: no generator state to save in a checkpoint.
Tensor dropout_mask(const Shape& shape, double p, uint64_t key, DType dtype = DType::F32);

// One adapted Linear: y += scaling · B (A dropout(x)). Attaching sets linear->adapter; the holder
// detaches. Dropout (PEFT's lora_dropout: nn.Dropout on the LoRA branch's input) acts only while
// a training step has set dropout_key; inference and evaluation leave it unset.
struct LoraLinear : nn::LinearAdapter {
  std::string module;
  nn::Linear* linear = nullptr;
  Tensor a, b;  // f32 [r, in], [out, r]
  float scaling = 1.0f;
  double dropout = 0.0;
  std::optional<uint64_t> dropout_key;
  void add_to(const Tensor& x, Tensor& y) const override;
};

// Owns adapters attached to a model's Linears and detaches them when destroyed; the model must
// outlive it.
class AttachedAdapters {
 public:
  AttachedAdapters() = default;
  AttachedAdapters(const AttachedAdapters&) = delete;
  AttachedAdapters& operator=(const AttachedAdapters&) = delete;
  ~AttachedAdapters();
  void attach(std::unique_ptr<LoraLinear> adapter);
  const std::vector<std::unique_ptr<LoraLinear>>& adapters() const { return adapters_; }

 private:
  std::vector<std::unique_ptr<LoraLinear>> adapters_;
};

// The folder's adapter_config.json and adapter_model.safetensors exist (IoError naming the missing
// one): what can be checked before a model is there to check the adapter against.
void check_adapter_folder(const std::filesystem::path& adapter_folder);

// Reads and checks a PEFT adapter folder against `model`. Errors name the file and key: a missing
// adapter_config.json or adapter_model.safetensors, a peft_type other than LORA, DoRA or per-module
// rank/alpha patterns (NotImplementedError), a key that is not a LoRA factor of a Linear of the
// model, a module with only one factor, a factor whose shape does not fit the Linear or whose rank
// differs from r, and a target module of the model that the file has no adapter for.
std::vector<std::unique_ptr<LoraLinear>> read_lora_adapter(const CausalLM& model,
                                                           const std::filesystem::path& adapter_folder);

// Attaches a saved adapter to `model` for inference: the base weights are not touched.
std::unique_ptr<AttachedAdapters> attach_adapter(CausalLM& model, const std::filesystem::path& adapter_folder);

// Merges a saved adapter into `model`: W += s · B·A for every adapted module, computed in f32 and
// stored back in the weight's dtype (as PEFT's merge_and_unload keeps the base dtype; an f32 model
// merges exactly). Quantized bases are refused (NotImplementedError).
void merge_adapter(CausalLM& model, const std::filesystem::path& adapter_folder);

}  // namespace transformers::training
