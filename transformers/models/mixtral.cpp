// Mixtral: Mistral's attention with a sparse MoE feed-forward on every layer: a router over
// num_local_experts experts, softmax, top num_experts_per_tok, weights renormalised to sum to 1.
// Hub checkpoints store block_sparse_moe.experts.N.w1/w2/w3; the "mixtral" conversion table
// fuses them into mlp.experts.gate_up_proj / down_proj at load (and splits them back at save).
#include "transformers/models/model_files.h"
#include "transformers/nn/moe.h"

namespace transformers {

std::unique_ptr<CausalLM> make_mixtral_for_causal_lm(const PretrainedConfig& c) {
  nn::DecoderConfig d = llama_like_decoder_config(c);
  if (!apply_layer_types(c, d))
    for (auto& a : d.attention) a.sliding_window = c.sliding_window;
  nn::MoEConfig moe;
  moe.hidden_size = c.hidden_size;
  moe.intermediate_size = c.intermediate_size;
  moe.num_experts = c.get<int64_t>("num_local_experts");
  moe.top_k = c.get<int64_t>("num_experts_per_tok");
  moe.norm_topk_prob = true;
  moe.activation = d.activation;
  d.make_mlp = [moe](const nn::DecoderConfig&, size_t) { return std::make_unique<nn::SparseMoeBlock>(moe); };
  return std::make_unique<DecoderForCausalLM>(c, d);
}

}  // namespace transformers
