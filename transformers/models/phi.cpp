// Phi (phi-1, phi-1.5, phi-2): one LayerNorm feeds attention and MLP in parallel
// (out = x + attn(n) + mlp(n)), partial rotary (partial_rotary_factor of each head, half-split),
// biases everywhere including the LM head, an ungated fc1 -> gelu_new -> fc2 MLP, the output
// projection named dense, optional q/k LayerNorms (qk_layernorm), final_layernorm.
#include "transformers/models/model_files.h"

namespace transformers {

std::unique_ptr<CausalLM> make_phi_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = llama_like_decoder_config(c);
  d.norm_kind = nn::NormConfig::Kind::Layer;
  d.norm_eps = c.get_or<double>("layer_norm_eps", 1e-5);
  d.norm_placement = nn::NormPlacement::Parallel;
  d.final_norm_name = "final_layernorm";
  d.activation = ops::activation_from_name(c.get_or<std::string>("hidden_act", "gelu_new"), c.where() + ": hidden_act");
  d.mlp_bias = true;
  d.dense_mlp_up = "fc1";
  d.dense_mlp_down = "fc2";
  d.lm_head_bias = true;
  const bool qk_layernorm = c.get_or<bool>("qk_layernorm", false);
  for (auto& a : d.attention) {
    a.qkv_bias = a.o_bias = true;
    a.names.o = "dense";
    a.qk_norm = qk_layernorm;
    a.qk_norm_kind = nn::NormConfig::Kind::Layer;
    a.qk_norm_bias = true;
    a.qk_norm_eps = d.norm_eps;
    a.names.q_norm = "q_layernorm";
    a.names.k_norm = "k_layernorm";
  }
  // partial_rotary_factor (0.4 in phi-2) is a top-level key that the config reader moves into
  // rope_parameters, as v5 does.
  apply_layer_types(c, d);
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
