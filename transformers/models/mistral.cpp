// Mistral: Llama's layout with a sliding window on every layer when config.sliding_window is set
// (null in newer checkpoints, which then attend globally).
#include "transformers/models/model_files.h"

namespace transformers {

std::unique_ptr<CausalLM> make_mistral_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = llama_like_decoder_config(c);
  if (!apply_layer_types(c, d))
    for (auto& a : d.attention) a.sliding_window = c.sliding_window;
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
