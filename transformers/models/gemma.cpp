// Gemma (v1) and the Gemma-family conventions Gemma2 and Gemma3 build on: embeddings scaled by
// sqrt(hidden_size), RMSNorm as x * (1 + weight), a GeGLU MLP with the tanh GELU
// (hidden_activation), tied embeddings by default.
#include "transformers/models/model_files.h"

#include <cmath>

namespace transformers {

nn::DecoderConfig gemma_decoder_config(const PretrainedConfig& c) {
  nn::DecoderConfig d = llama_like_decoder_config(c);
  d.norm_unit_offset = true;
  d.embedding_scale = std::sqrt(static_cast<double>(c.hidden_size));
  // Gemma configs name the MLP activation hidden_activation; hidden_act ("gelu") in v1 configs
  // was overridden to the tanh approximation by Transformers, and v5 defaults to it.
  const std::string act = c.get_or<std::string>("hidden_activation", "gelu_pytorch_tanh");
  d.activation = ops::activation_from_name(act, c.where() + ": hidden_activation");
  const bool attention_bias = c.get_or<bool>("attention_bias", false);
  for (auto& a : d.attention) {
    a.qkv_bias = attention_bias;
    a.o_bias = attention_bias;
  }
  return d;
}

PretrainedConfig gemma_tied_by_default(const PretrainedConfig& c) {
  PretrainedConfig out = c;
  out.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
  return out;
}

std::unique_ptr<CausalLM> make_gemma_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = gemma_decoder_config(c);
  apply_layer_types(c, d);
  return std::make_unique<DecoderForCausalLM>(gemma_tied_by_default(c), d);
}

}  // namespace transformers
