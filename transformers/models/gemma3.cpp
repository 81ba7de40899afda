// Gemma3 (text): Gemma2's layer with q/k RMSNorms ((1 + w), per head) and no softcapping by
// default; five sliding-window layers to one global (layer_types, or v4's sliding_window_pattern)
// and one rotary table per layer type: local layers use rope_local_base_freq (10k) with no
// scaling, global layers rope_theta (1M) with the config's rope scaling. v5 configs give the
// same as rope_parameters {sliding_attention: ..., full_attention: ...}.
#include "transformers/models/model_files.h"

namespace transformers {

std::unique_ptr<CausalLM> make_gemma3_for_causal_lm(const PretrainedConfig& config) {
  PretrainedConfig c = config;
  if (c.layer_types.empty()) {
    const int64_t pattern = c.get_or<int64_t>("sliding_window_pattern", 6);
    for (int64_t i = 0; i < c.num_hidden_layers; ++i)
      c.layer_types.push_back(pattern > 0 && (i + 1) % pattern == 0 ? "full_attention" : "sliding_attention");
  }
  if (!c.sliding_window) c.sliding_window = 4096;
  if (c.rope_parameters_by_layer_type.empty()) {
    // v4 config: rope_theta + rope_scaling are the global layers'; rope_local_base_freq the local.
    RopeParameters local;
    local.rope_theta = c.get_or<double>("rope_local_base_freq", 10000.0);
    check_config_positive(c.where(), "rope_local_base_freq", local.rope_theta);
    local.raw = {{"rope_type", "default"}, {"rope_theta", local.rope_theta}};
    RopeParameters global = c.rope_parameters;
    if (!c.raw.contains("rope_theta")) {
      global.rope_theta = 1000000.0;
      global.raw["rope_theta"] = global.rope_theta;
    }
    c.rope_parameters_by_layer_type = {{"sliding_attention", local}, {"full_attention", global}};
  }
  nn::DecoderConfig d = gemma2_family_decoder_config(c, std::nullopt, std::nullopt);
  for (auto& a : d.attention) {
    a.qk_norm = true;
    a.qk_norm_unit_offset = true;
  }
  apply_layer_types(c, d);
  return std::make_unique<DecoderForCausalLM>(gemma_tied_by_default(c), d);
}

}  // namespace transformers
