#include "transformers/nn/moe.h"

namespace transformers::nn {

FusedExperts::FusedExperts(const MoEConfig& c) {
  register_parameter("gate_up_proj", &gate_up_proj, {c.num_experts, 2 * c.intermediate_size, c.hidden_size},
                     ParamRole::Matrix);
  register_parameter("down_proj", &down_proj, {c.num_experts, c.hidden_size, c.intermediate_size}, ParamRole::Matrix);
}

SparseMoeBlock::SparseMoeBlock(const MoEConfig& c) : gate(c.hidden_size, c.num_experts, false), experts(c), config_(c) {
  TCPP_CHECK(c.num_experts > 0 && c.top_k >= 1 && c.top_k <= c.num_experts, ConfigError, "MoE: num_experts_per_tok ",
             c.top_k, " must be in [1, ", c.num_experts, "]");
  register_module("gate", &gate);
  register_module("experts", &experts);
  if (c.shared_expert_intermediate_size > 0) {
    shared_expert = std::make_unique<GatedMLP>(c.hidden_size, c.shared_expert_intermediate_size, c.activation, false);
    shared_expert_gate = std::make_unique<Linear>(c.hidden_size, 1, false);
    register_module("shared_expert", shared_expert.get());
    register_module("shared_expert_gate", shared_expert_gate.get());
  }
}

std::pair<Tensor, Tensor> SparseMoeBlock::route(const Tensor& tokens) const {
  Tensor probs = gate.forward(tokens);  // [T, E] f32
  ops::softmax_(probs);
  auto [weights, experts_of_token] = ops::topk(probs, config_.top_k);
  if (router_record) [[unlikely]]
    router_record->layers.emplace_back(probs, experts_of_token);
  if (config_.norm_topk_prob) ops::normalize_sum_(weights);
  return {experts_of_token, weights};
}

Tensor SparseMoeBlock::forward(const Tensor& x) const {
  const int64_t H = config_.hidden_size, I = config_.intermediate_size, E = config_.num_experts;
  Tensor tokens = x.contiguous().view({-1, H});
  const int64_t T = tokens.size(0), k = config_.top_k;
  auto [chosen, weights] = route(tokens);
  // Tokens per expert (read back to the host, the routing bookkeeping), so each expert multiplies
  // only the rows routed to it.
  const std::vector<int64_t> expert_of = ops::to_int64_vector(chosen);
  // The (token, choice) slots t * k + j routed to each expert.
  std::vector<std::vector<int64_t>> slots_of(static_cast<size_t>(E));
  for (int64_t s = 0; s < T * k; ++s) slots_of[static_cast<size_t>(expert_of[static_cast<size_t>(s)])].push_back(s);
  // Each expert's weights are gathered from the router's output, so that in training their
  // gradient reaches the router (inference records nothing: no input carries a gradient).
  const Tensor flat_weights = weights.view({-1});
  Tensor out = Tensor::zeros({T, H}, DType::F32);
  for (int64_t e = 0; e < E; ++e) {
    const auto& slots = slots_of[static_cast<size_t>(e)];
    if (slots.empty()) continue;
    const int64_t n = static_cast<int64_t>(slots.size());
    std::vector<int64_t> rows(slots.size());
    for (size_t i = 0; i < slots.size(); ++i) rows[i] = slots[i] / k;
    const Tensor ids = Tensor::from_values(rows, {n});
    const Tensor row_weights = ops::index_select(flat_weights, Tensor::from_values(slots, {n}));  // [n]
    Tensor xe = ops::index_select(tokens, ids);  // [n, H]
    Tensor gate_up = ops::linear(xe, experts.gate_up_proj.select(0, e));  // [n, 2I]
    Tensor h = ops::gated_activation(gate_up.slice(1, 0, I).contiguous(), gate_up.slice(1, I, 2 * I).contiguous(),
                                     config_.activation);
    Tensor y = ops::linear(h, experts.down_proj.select(0, e));  // [n, H]
    ops::index_add_(out, ids, y, &row_weights);
  }
  if (shared_expert) {
    Tensor s = shared_expert->forward(tokens);                        // [T, H]
    ops::mul_(s, ops::sigmoid(shared_expert_gate->forward(tokens)));  // a [T, 1] gate per token
    ops::add_(out, s);
  }
  return out.view(x.shape());
}

}  // namespace transformers::nn
