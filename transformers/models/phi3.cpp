// Phi3 / Phi-3.5 / Phi-4-mini: Llama's layer with q/k/v fused into qkv_proj and gate/up fused
// into gate_up_proj (both stored fused in the checkpoints), a sliding window on every layer when
// config.sliding_window is set, and longrope scaling whose original_max_position_embeddings is a
// top-level config key (it wins over the one inside rope_scaling, as in v5).
#include "transformers/models/model_files.h"

namespace transformers {

std::unique_ptr<CausalLM> make_phi3_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = llama_like_decoder_config(c);
  d.fused_gate_up = true;
  const bool attention_bias = c.get_or<bool>("attention_bias", false);
  for (auto& a : d.attention) {
    a.fused_qkv = true;
    a.qkv_bias = attention_bias;
    a.o_bias = attention_bias;
  }
  if (!apply_layer_types(c, d))
    for (auto& a : d.attention) a.sliding_window = c.sliding_window;
  if (auto original = c.get_optional<int64_t>("original_max_position_embeddings"))
    for (auto& r : d.rope) r.raw["original_max_position_embeddings"] = *original;
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
