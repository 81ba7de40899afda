// Qwen2 / Qwen2.5: biases on q/k/v (not on o), and a sliding window only when
// use_sliding_window is set, on the layers from max_window_layers on.
#include <algorithm>

#include "transformers/models/model_files.h"

namespace transformers {

// Shared with Qwen3, whose config has the same window rule.
void apply_qwen_sliding_window(const PretrainedConfig& c, nn::DecoderConfig& d) {
  if (apply_layer_types(c, d)) return;
  const bool use = c.get_or<bool>("use_sliding_window", false);
  // v5: layer i slides when i >= max_window_layers, so a negative value means every layer and one
  // past the last means none (clamped here rather than used as an index).
  const int64_t first = std::clamp<int64_t>(c.get_or<int64_t>("max_window_layers", c.num_hidden_layers), 0,
                                            static_cast<int64_t>(d.attention.size()));
  if (!use || !c.sliding_window) return;
  for (size_t i = static_cast<size_t>(first); i < d.attention.size(); ++i) d.attention[i].sliding_window = c.sliding_window;
}

std::unique_ptr<CausalLM> make_qwen2_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = llama_like_decoder_config(c);
  for (auto& a : d.attention) a.qkv_bias = true;
  apply_qwen_sliding_window(c, d);
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
