// Llama (Llama 2, 3, 3.1+ with llama3 rope scaling; SmolLM, DeepSeek-R1-Distill-Llama, ...):
// pre-norm RMSNorm, SwiGLU MLP, grouped-query attention with optional biases (attention_bias,
// mlp_bias) and an explicit head_dim.
#include "transformers/models/model_files.h"

namespace transformers {

std::unique_ptr<CausalLM> make_llama_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = llama_like_decoder_config(c);
  const bool attention_bias = c.get_or<bool>("attention_bias", false);
  for (auto& a : d.attention) {
    a.qkv_bias = attention_bias;
    a.o_bias = attention_bias;
  }
  d.mlp_bias = c.get_or<bool>("mlp_bias", false);
  apply_layer_types(c, d);
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
