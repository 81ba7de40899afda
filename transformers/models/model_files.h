// Factories defined by the model files (one file per architecture), listed in registry.cpp.
#pragma once

#include <memory>

#include "transformers/models/causal_lm.h"

namespace transformers {

std::unique_ptr<CausalLM> make_llama_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_mistral_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_qwen2_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_qwen3_for_causal_lm(const PretrainedConfig& config);

void apply_qwen_sliding_window(const PretrainedConfig& config, nn::DecoderConfig& decoder);

}  // namespace transformers
