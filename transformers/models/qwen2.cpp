// Qwen2 / Qwen2.5: biases on q/k/v (not on o), and a sliding window only when
// use_sliding_window is set, on the layers from max_window_layers on.
#include "transformers/models/model_files.h"

namespace transformers {

// Shared with Qwen3, whose config has the same window rule.
void apply_qwen_sliding_window(const PretrainedConfig& c, nn::DecoderConfig& d) {
  if (apply_layer_types(c, d)) return;
  const bool use = c.get_or<bool>("use_sliding_window", false);
  const int64_t first = c.get_or<int64_t>("max_window_layers", c.num_hidden_layers);
  if (!use || !c.sliding_window) return;
  for (int64_t i = first; i < c.num_hidden_layers; ++i) d.attention[static_cast<size_t>(i)].sliding_window = c.sliding_window;
}

std::unique_ptr<CausalLM> make_qwen2_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = llama_like_decoder_config(c);
  for (auto& a : d.attention) a.qkv_bias = true;
  apply_qwen_sliding_window(c, d);
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
