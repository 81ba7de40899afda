// Cohere (Command-R): one LayerNorm without bias feeds attention and MLP in parallel
// (out = x + attn(n) + mlp(n)), rope on interleaved pairs (x0, x1), (x2, x3), ..., optional
// q/k LayerNorms with one weight row per head (use_qk_norm), logits multiplied by logit_scale,
// tied embeddings by default.
#include "transformers/models/model_files.h"

namespace transformers {

std::unique_ptr<CausalLM> make_cohere_for_causal_lm(const PretrainedConfig& config) {
  PretrainedConfig c = config;
  c.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
  nn::DecoderConfig d = llama_like_decoder_config(c);
  d.norm_kind = nn::NormConfig::Kind::Layer;
  d.norm_bias = false;
  d.norm_eps = c.get_or<double>("layer_norm_eps", 1e-5);
  d.norm_placement = nn::NormPlacement::Parallel;
  d.logit_scale = c.get_or<double>("logit_scale", 0.0625);
  const bool attention_bias = c.get_or<bool>("attention_bias", false);
  const bool qk_norm = c.get_or<bool>("use_qk_norm", false);
  for (auto& a : d.attention) {
    a.qkv_bias = a.o_bias = attention_bias;
    a.rope_interleaved = true;
    a.qk_norm = qk_norm;
    a.qk_norm_kind = nn::NormConfig::Kind::Layer;
    a.qk_norm_head_weights = true;
    a.qk_norm_eps = d.norm_eps;
  }
  apply_layer_types(c, d);
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
