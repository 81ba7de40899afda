// Factories defined by the model files (one file per architecture), listed in registry.cpp.
#pragma once

#include <memory>

#include "transformers/models/causal_lm.h"
#include "transformers/nn/moe.h"

namespace transformers {

std::unique_ptr<CausalLM> make_llama_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_mistral_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_qwen2_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_qwen3_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_gemma_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_gemma2_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_gemma3_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_phi3_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_gpt2_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_olmo2_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_starcoder2_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_cohere_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_phi_for_causal_lm(const PretrainedConfig& config);

// Shared by the Gemma family (gemma.cpp, gemma2.cpp).
nn::DecoderConfig gemma_decoder_config(const PretrainedConfig& config);
PretrainedConfig gemma_tied_by_default(const PretrainedConfig& config);
nn::DecoderConfig gemma2_family_decoder_config(const PretrainedConfig& config, std::optional<double> attn_softcap_default,
                                               std::optional<double> final_softcap_default);

void apply_qwen_sliding_window(const PretrainedConfig& config, nn::DecoderConfig& decoder);
nn::DecoderConfig qwen3_decoder_config(const PretrainedConfig& config);

// Mixture-of-experts families (nn/moe.h); qwen2_moe.cpp holds what Qwen3-MoE shares with it.
std::unique_ptr<CausalLM> make_mixtral_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_qwen2_moe_for_causal_lm(const PretrainedConfig& config);
std::unique_ptr<CausalLM> make_qwen3_moe_for_causal_lm(const PretrainedConfig& config);
nn::MoEConfig qwen_moe_config(const PretrainedConfig& config, const nn::DecoderConfig& decoder);
std::function<std::unique_ptr<nn::FeedForward>(const nn::DecoderConfig&, size_t)> qwen_moe_layers(
    const PretrainedConfig& config, const nn::MoEConfig& moe);

}  // namespace transformers
