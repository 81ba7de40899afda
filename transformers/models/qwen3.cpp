// Qwen3: Qwen2's window rule, no q/k/v bias by default (attention_bias), and an RMSNorm over
// head_dim on every query and key head (q_norm, k_norm) before the rotary embedding.
#include "transformers/models/model_files.h"

namespace transformers {

// Shared with Qwen3-MoE, whose attention is the same.
nn::DecoderConfig qwen3_decoder_config(const PretrainedConfig& c) {
  nn::DecoderConfig d = llama_like_decoder_config(c);
  const bool attention_bias = c.get_or<bool>("attention_bias", false);
  for (auto& a : d.attention) {
    a.qkv_bias = attention_bias;
    a.o_bias = attention_bias;
    a.qk_norm = true;
  }
  apply_qwen_sliding_window(c, d);
  return d;
}

std::unique_ptr<CausalLM> make_qwen3_for_causal_lm(const PretrainedConfig& c) {
  return std::make_unique<DecoderForCausalLM>(c, qwen3_decoder_config(c));
}

}  // namespace transformers
