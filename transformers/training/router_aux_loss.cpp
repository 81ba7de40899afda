#include "transformers/training/router_aux_loss.h"

#include "transformers/io/json.h"
#include "transformers/ops/ops.h"

namespace transformers::training {

Tensor load_balancing_loss(const nn::RouterRecord& record, int64_t num_experts, const Tensor* attention_mask) {
  TCPP_CHECK(!record.layers.empty(), ValueError, "load_balancing_loss: no router outputs were recorded");
  const int64_t T = record.layers.front().first.size(0), E = num_experts;
  std::vector<float> mask(static_cast<size_t>(T), 1.0f);
  if (attention_mask) {
    TCPP_CHECK(attention_mask->numel() == T, ShapeError, "load_balancing_loss: attention_mask ",
               attention_mask->describe(), " for ", T, " routed tokens");
    const std::vector<int64_t> m = ops::to_int64_vector(*attention_mask);
    for (size_t t = 0; t < m.size(); ++t) mask[t] = m[t] != 0 ? 1.0f : 0.0f;
  }
  double real_tokens = 0.0;
  for (float m : mask) real_tokens += m;
  TCPP_CHECK(real_tokens > 0, ValueError, "load_balancing_loss: the attention mask leaves no token");
  const double tokens = real_tokens * static_cast<double>(record.layers.size());  // over all layers

  // f_e, summed over the k slots: the share of (token, layer) pairs that chose expert e.
  std::vector<double> chosen(static_cast<size_t>(E), 0.0);
  for (const auto& [probs, experts] : record.layers) {
    TCPP_CHECK(probs.dim() == 2 && probs.size(0) == T && probs.size(1) == E, ShapeError,
               "load_balancing_loss: router probabilities ", probs.describe(), ", expected [", T, ", ", E, "]");
    const std::vector<int64_t> e = ops::to_int64_vector(experts);
    const int64_t k = experts.size(1);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < k; ++j) chosen[static_cast<size_t>(e[static_cast<size_t>(t * k + j)])] += mask[static_cast<size_t>(t)];
  }
  // loss = E · Σ_e f_e · P_e = Σ_layers Σ_t m_t · <probs[t], w> with w_e = E · f_e / tokens:
  // two matrix products per layer keep the probabilities in the graph.
  std::vector<float> w(static_cast<size_t>(E));
  for (int64_t e = 0; e < E; ++e)
    w[static_cast<size_t>(e)] = static_cast<float>(static_cast<double>(E) * chosen[static_cast<size_t>(e)] / tokens / tokens);
  const Tensor weights = Tensor::from_values(w, {1, E});
  const Tensor token_mask = Tensor::from_values(mask, {1, T});
  Tensor loss;
  for (const auto& [probs, experts] : record.layers) {
    Tensor per_token = ops::linear(probs, weights);                  // [T, 1]
    Tensor layer = ops::linear(per_token.view({1, T}), token_mask);  // [1, 1]
    loss = loss.defined() ? ops::add(loss, layer) : layer;
  }
  return loss;
}

RouterAuxLoss::RouterAuxLoss(const CausalLM& model) {
  const Json& raw = model.config().raw;
  const auto flag = raw.find("output_router_logits");
  if (flag == raw.end() || !flag->is_boolean() || !flag->get<bool>()) return;
  for (const auto& [name, module] : model.named_modules())
    if (auto* block = dynamic_cast<nn::SparseMoeBlock*>(module)) blocks_.push_back(block);
  TCPP_CHECK(!blocks_.empty(), ConfigError, "config.json: output_router_logits is true but ", model.config().model_type,
             " has no mixture-of-experts layers");
  coefficient_ = json_get_or<double>(raw, "router_aux_loss_coef", 0.001, "config.json");
  num_experts_ = blocks_.front()->config().num_experts;
  for (auto* block : blocks_) {
    TCPP_CHECK(block->router_record == nullptr, ValueError, "RouterAuxLoss: the model's routers are already recorded");
    block->router_record = &record_;
  }
}

RouterAuxLoss::~RouterAuxLoss() {
  for (auto* block : blocks_) block->router_record = nullptr;
}

Tensor RouterAuxLoss::weighted_loss(const Tensor* attention_mask) const {
  Tensor loss = load_balancing_loss(record_, num_experts_, attention_mask);
  ops::scale_(loss, static_cast<float>(coefficient_));
  return loss;
}

}  // namespace transformers::training
