// Qwen2-MoE (Qwen1.5-MoE, Qwen2-57B-A14B): Qwen2's attention (q/k/v biases, the Qwen sliding
// window rule) and, on the sparse layers, num_experts experts of moe_intermediate_size with
// top num_experts_per_tok routing (renormalised only when norm_topk_prob) plus a shared expert
// of shared_expert_intermediate_size scaled by sigmoid(shared_expert_gate(x)). Layers listed in
// mlp_only_layers, or off the decoder_sparse_step grid, keep a dense MLP of intermediate_size.
#include "transformers/models/model_files.h"
#include "transformers/nn/moe.h"

#include <algorithm>

namespace transformers {

std::function<std::unique_ptr<nn::FeedForward>(const nn::DecoderConfig&, size_t)> qwen_moe_layers(const PretrainedConfig& c, const nn::MoEConfig& moe) {
  const auto dense_only = c.get_or<std::vector<int64_t>>("mlp_only_layers", {});
  const int64_t step = c.get_or<int64_t>("decoder_sparse_step", 1);
  TCPP_CHECK(step >= 1, ConfigError, c.where(), ": decoder_sparse_step must be >= 1");
  return [moe, dense_only, step](const nn::DecoderConfig& d, size_t layer) -> std::unique_ptr<nn::FeedForward> {
    const int64_t i = static_cast<int64_t>(layer);
    const bool dense = std::find(dense_only.begin(), dense_only.end(), i) != dense_only.end();
    if (!dense && moe.num_experts > 0 && (i + 1) % step == 0) return std::make_unique<nn::SparseMoeBlock>(moe);
    return std::make_unique<nn::GatedMLP>(d.hidden_size, d.intermediate_size, d.activation, false);
  };
}

nn::MoEConfig qwen_moe_config(const PretrainedConfig& c, const nn::DecoderConfig& d) {
  nn::MoEConfig moe;
  moe.hidden_size = c.hidden_size;
  moe.intermediate_size = c.get<int64_t>("moe_intermediate_size");
  moe.num_experts = c.get<int64_t>("num_experts");
  moe.top_k = c.get<int64_t>("num_experts_per_tok");
  moe.norm_topk_prob = c.get_or<bool>("norm_topk_prob", false);
  moe.activation = d.activation;
  return moe;
}

std::unique_ptr<CausalLM> make_qwen2_moe_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = llama_like_decoder_config(c);
  const bool qkv_bias = c.get_or<bool>("qkv_bias", true);
  for (auto& a : d.attention) a.qkv_bias = qkv_bias;
  apply_qwen_sliding_window(c, d);
  nn::MoEConfig moe = qwen_moe_config(c, d);
  moe.shared_expert_intermediate_size = c.get_or<int64_t>("shared_expert_intermediate_size", 0);
  d.make_mlp = qwen_moe_layers(c, moe);
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
