// --adapter DIR on the commands that run a causal LM (generate, forward): a LoRA adapter in PEFT's
// layout (adapter_config.json + adapter_model.safetensors, as `transformers train --lora` or PEFT
// writes it) applied at run time on top of the base, whose weights stay as loaded (mapped).
#pragma once

#include <memory>
#include <string>

#include "transformers/models/causal_lm.h"
#include "transformers/training/peft_adapter.h"

namespace CLI {
class App;
}

namespace transformers::cli {

void add_adapter_flag(CLI::App* sub, std::string* value);
// Null when `value` is empty; otherwise the attached adapter, which must not outlive `model`.
std::unique_ptr<training::AttachedAdapters> attach_adapter_flag(CausalLM& model, const std::string& value);

}  // namespace transformers::cli
