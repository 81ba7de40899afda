#include "cli/adapter_flag.h"

#include <CLI/CLI.hpp>

namespace transformers::cli {

void add_adapter_flag(CLI::App* sub, std::string* value) {
  sub->add_option("--adapter", *value,
                  "LoRA adapter folder in PEFT's layout (adapter_config.json + adapter_model.safetensors), applied at "
                  "run time on the unchanged base");
}

std::unique_ptr<training::AttachedAdapters> attach_adapter_flag(CausalLM& model, const std::string& value) {
  if (value.empty()) return nullptr;
  return training::attach_adapter(model, value);
}

}  // namespace transformers::cli
