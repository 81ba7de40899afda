// LoRA adapters in PEFT's layout: for each Linear whose module name ends with one of
// target_modules, y = W x + b + (lora_alpha / r) · B (A x) with A [r, in] (PEFT's default init,
// kaiming-uniform with a = sqrt(5): U(-1/sqrt(in), 1/sqrt(in))) and B [out, r] zero. The base model
// stays frozen and untouched (mmapped, in its own dtype: bf16 bases give input gradients through
// the bf16 kernels); only A and B are TrainableParameters. Saved as adapter_model.safetensors
// (base_model.model.<module>.lora_A.weight / lora_B.weight) and adapter_config.json.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "transformers/models/auto.h"
#include "transformers/models/causal_lm.h"
#include "transformers/training/peft_adapter.h"
#include "transformers/training/trainable.h"

namespace transformers::training {

struct LoraConfig {
  int64_t r = 8;
  double lora_alpha = 16.0;
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  double lora_dropout = 0.0;            // on the LoRA branch's input, in forward_backward only
  uint64_t seed = 0;                    // A's initialisation
  std::string base_model_name_or_path;  // written to adapter_config.json
};

class LoraModel : public TrainableModel {
 public:
  LoraModel(std::unique_ptr<CausalLM> base, const LoraConfig& config);
  ~LoraModel() override;
  std::vector<TrainableParameter*> parameters() override;
  // With lora_dropout > 0, each adapter's mask comes from the stream key set last and the
  // adapter's index (the same key gives the same masks).
  float forward_backward(const Batch& batch, int64_t num_items_in_batch) override;
  void set_random_stream(uint64_t key) override { stream_ = key; }
  std::pair<double, int64_t> evaluate(const Batch& batch) override;
  float eval_loss(const Batch& batch) override;
  double training_loss(const Batch& batch, int64_t num_items_in_batch) override;
  // Writes the adapter (adapter_model.safetensors + adapter_config.json), not the base.
  void save_pretrained(const std::filesystem::path& folder) const override;
  // The model with its adapters applied at run time.
  const CausalLM& model() const { return *model_; }

 private:
  std::unique_ptr<CausalLM> model_;
  LoraConfig config_;
  AttachedAdapters adapters_;  // declared after model_: detached before the model goes
  std::vector<TrainableParameter> parameters_;
  uint64_t stream_ = 0;
};

// Loads the base (its own dtype, mmapped) and attaches fresh adapters.
// `options` may keep the base in bf16 or quantize it while loading (QLoRA: the adapters stay f32).
std::unique_ptr<LoraModel> load_lora(const std::filesystem::path& base_folder, const LoraConfig& config,
                                     const LoadOptions& options = {});

}  // namespace transformers::training
