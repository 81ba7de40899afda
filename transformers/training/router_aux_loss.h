// The MoE auxiliary load-balancing loss of Switch Transformer (eqs. 4-6) as Transformers computes
// it for Mixtral, Qwen2-MoE and Qwen3-MoE (load_balancing_loss_func) when the config sets
// output_router_logits: over the tokens of every routed layer together (padding left out when
// there is an attention mask),
//   f_e = (number of top-k choices of expert e) / (number of tokens)   [the k slots summed]
//   P_e = mean router probability of expert e
//   loss = num_experts · Σ_e f_e · P_e
// f is a count (no gradient); the gradient reaches the routers through P. The training loss is
// the causal-LM loss + router_aux_loss_coef · loss, for each micro-batch as the model's forward
// returns it (so gradient accumulation adds one aux term per micro-batch, as in v5's Trainer).
#pragma once

#include <memory>
#include <vector>

#include "transformers/models/causal_lm.h"
#include "transformers/nn/moe.h"

namespace transformers::training {

// The loss for recorded router outputs: [1, 1] f32, in the graph of the probabilities.
// attention_mask: [B, L] (nonzero = real token) for T = B·L tokens per layer, or null.
Tensor load_balancing_loss(const nn::RouterRecord& record, int64_t num_experts, const Tensor* attention_mask);

// Records the router outputs of a model's MoE blocks while it lives, when the config asks for
// the auxiliary loss (output_router_logits: true); inactive otherwise (no MoE blocks, or the key
// false or absent), leaving the model's forward untouched.
class RouterAuxLoss {
 public:
  explicit RouterAuxLoss(const CausalLM& model);
  ~RouterAuxLoss();
  RouterAuxLoss(const RouterAuxLoss&) = delete;
  RouterAuxLoss& operator=(const RouterAuxLoss&) = delete;
  bool active() const { return !blocks_.empty(); }
  // router_aux_loss_coef · load_balancing_loss of the forward run since construction: [1, 1].
  Tensor weighted_loss(const Tensor* attention_mask) const;

 private:
  std::vector<nn::SparseMoeBlock*> blocks_;
  nn::RouterRecord record_;
  double coefficient_ = 0.0;
  int64_t num_experts_ = 0;
};

}  // namespace transformers::training
