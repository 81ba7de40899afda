// Sparse mixture-of-experts feed-forward blocks with fused expert weights, as v5 stores them:
// experts.gate_up_proj [E, 2I, H] (gate rows, then up rows) and experts.down_proj [E, H, I].
// A router (`gate`, a Linear H -> E) scores every token; softmax, top-k, optional
// renormalisation of the k weights; each token goes through its k experts only, and the
// expert outputs are summed with those weights. Checkpoints with one Linear per expert are
// fused at load by the conversion tables (loading/conversion_mapping.cpp), not here.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "transformers/nn/attention.h"

namespace transformers::nn {

struct MoEConfig {
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;  // per expert
  int64_t num_experts = 0;
  int64_t top_k = 0;
  bool norm_topk_prob = true;  // Mixtral always; Qwen2/3-MoE from config.norm_topk_prob
  ops::Activation activation = ops::Activation::SiLU;
  // Qwen2-MoE: a dense expert every token goes through, scaled by sigmoid(shared_expert_gate(x)).
  int64_t shared_expert_intermediate_size = 0;  // 0: none
};

// The expert weights of one layer ("experts.gate_up_proj", "experts.down_proj").
class FusedExperts : public Module {
 public:
  explicit FusedExperts(const MoEConfig& config);
  Tensor gate_up_proj;  // [E, 2I, H]
  Tensor down_proj;     // [E, H, I]
};

// What the MoE auxiliary load-balancing loss (training/router_aux_loss.h) needs from each routed
// layer of one forward: the router's softmax probabilities [T, E] (in the autograd graph, so the
// loss reaches the router) and the experts chosen for each token [T, k] (I64).
struct RouterRecord {
  std::vector<std::pair<Tensor, Tensor>> layers;  // (probabilities, chosen experts) per MoE block
};

class SparseMoeBlock : public FeedForward {
 public:
  explicit SparseMoeBlock(const MoEConfig& config);
  Tensor forward(const Tensor& x) const override;
  // Routing of flattened tokens [T, H]: per token its k experts and their weights ([T, k] each).
  std::pair<Tensor, Tensor> route(const Tensor& tokens) const;
  const MoEConfig& config() const { return config_; }

  Linear gate;  // the router
  FusedExperts experts;
  std::unique_ptr<GatedMLP> shared_expert;
  std::unique_ptr<Linear> shared_expert_gate;
  // Not owned; null (the inference path: one pointer check) unless a training step asked for the
  // router outputs (output_router_logits), which route() then appends to it.
  RouterRecord* router_record = nullptr;

 private:
  MoEConfig config_;
};

}  // namespace transformers::nn
