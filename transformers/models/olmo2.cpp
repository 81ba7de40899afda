// OLMo2: norms after the blocks instead of before (h = x + norm(attn(x)),
// out = h + norm(mlp(h)): post_attention_layernorm, post_feedforward_layernorm, no
// input_layernorm), and q/k RMSNorms over the whole projection (all heads at once, before the
// reshape to heads), not per head as Qwen3's.
#include "transformers/models/model_files.h"

namespace transformers {

std::unique_ptr<CausalLM> make_olmo2_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = llama_like_decoder_config(c);
  d.norm_placement = nn::NormPlacement::Post;
  const bool attention_bias = c.get_or<bool>("attention_bias", false);
  for (auto& a : d.attention) {
    a.qkv_bias = a.o_bias = attention_bias;
    a.qk_norm = true;
    a.qk_norm_full = true;
  }
  apply_layer_types(c, d);
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
