// Qwen3-MoE (Qwen3-30B-A3B, 235B-A22B): Qwen3's attention (per-head q/k RMSNorm, no biases by
// default) with Qwen2-MoE's sparse layers minus the shared expert; norm_topk_prob renormalises
// the top-k weights.
#include "transformers/models/model_files.h"
#include "transformers/nn/moe.h"

namespace transformers {

std::unique_ptr<CausalLM> make_qwen3_moe_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = qwen3_decoder_config(c);
  d.make_mlp = qwen_moe_layers(c, qwen_moe_config(c, d));
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
