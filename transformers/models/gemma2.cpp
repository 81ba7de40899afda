// Gemma2: Gemma plus a norm after attention and around the MLP (input_layernorm,
// post_attention_layernorm, pre_feedforward_layernorm, post_feedforward_layernorm), attention
// scaled by query_pre_attn_scalar^-0.5 instead of head_dim^-0.5, attention logits softcapped
// (attn_logit_softcapping) and final logits softcapped (final_logit_softcapping), and layers
// alternating sliding-window (even indices) and global attention.
#include "transformers/models/model_files.h"

#include <cmath>

namespace transformers {

// The settings Gemma2 and Gemma3 share on top of Gemma.
nn::DecoderConfig gemma2_family_decoder_config(const PretrainedConfig& c, std::optional<double> attn_softcap_default,
                                               std::optional<double> final_softcap_default) {
  nn::DecoderConfig d = gemma_decoder_config(c);
  d.norm_placement = nn::NormPlacement::Sandwich;
  const double scalar = c.get_or<double>("query_pre_attn_scalar", 256.0);
  check_config_positive(c.where(), "query_pre_attn_scalar", scalar);
  const auto attn_cap = c.raw.contains("attn_logit_softcapping") ? c.get_optional<double>("attn_logit_softcapping")
                                                                 : attn_softcap_default;
  const auto final_cap = c.raw.contains("final_logit_softcapping") ? c.get_optional<double>("final_logit_softcapping")
                                                                   : final_softcap_default;
  for (auto& a : d.attention) {
    a.scaling = 1.0 / std::sqrt(scalar);
    a.softcap = attn_cap.value_or(0.0);
  }
  d.final_logit_softcap = final_cap.value_or(0.0);
  return d;
}

std::unique_ptr<CausalLM> make_gemma2_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = gemma2_family_decoder_config(c, 50.0, 30.0);
  if (!apply_layer_types(c, d)) {
    const int64_t window = c.sliding_window.value_or(4096);
    for (size_t i = 0; i < d.attention.size(); i += 2) d.attention[i].sliding_window = window;
  }
  return std::make_unique<DecoderForCausalLM>(gemma_tied_by_default(c), d);
}

}  // namespace transformers
