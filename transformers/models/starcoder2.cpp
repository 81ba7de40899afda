// StarCoder2: Llama's pre-norm layer with LayerNorms (weight and bias, norm_epsilon), biases on
// every projection (use_bias), an ungated MLP c_fc -> act (gelu_pytorch_tanh) -> c_proj, a
// sliding window on every layer when config.sliding_window is set, tied embeddings by default.
#include "transformers/models/model_files.h"

namespace transformers {

std::unique_ptr<CausalLM> make_starcoder2_for_causal_lm(const PretrainedConfig& config) {
  PretrainedConfig c = config;
  c.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
  nn::DecoderConfig d = llama_like_decoder_config(c);
  d.norm_kind = nn::NormConfig::Kind::Layer;
  d.norm_eps = c.get_or<double>("norm_epsilon", 1e-5);
  d.activation = ops::activation_from_name(c.get_or<std::string>("hidden_act", "gelu_pytorch_tanh"), c.where() + ": hidden_act");
  const bool bias = c.get_or<bool>("use_bias", true);
  d.mlp_bias = bias;
  d.dense_mlp_up = "c_fc";
  d.dense_mlp_down = "c_proj";
  for (auto& a : d.attention) {
    a.qkv_bias = a.o_bias = bias;
    a.sliding_window = c.sliding_window;
  }
  apply_layer_types(c, d);
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
