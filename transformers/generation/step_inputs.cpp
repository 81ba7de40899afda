#include "transformers/generation/step_inputs.h"

namespace transformers::generation_detail {

CausalLMOutput StepInputs::forward(const CausalLM& model, Cache* cache, const std::vector<std::vector<int64_t>>& rows,
                                   bool output_hidden_states, bool output_attentions) {
  const int64_t N = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(rows[0].size());
  const int64_t start = cache ? cache->seq_length() : 0, L = T - start;
  TCPP_CHECK(L > 0, ValueError, "generate: no new tokens to feed (cache holds ", start, " of ", T, ")");
  std::vector<int64_t> new_ids;
  new_ids.reserve(static_cast<size_t>(N * L));
  for (const auto& row : rows) new_ids.insert(new_ids.end(), row.begin() + start, row.end());
  const Tensor ids = Tensor::from_values(new_ids, {N, L});

  ForwardOptions fo;
  fo.cache = cache;
  fo.logits_to_keep = 1;
  fo.output_hidden_states = output_hidden_states;
  fo.output_attentions = output_attentions;
  Tensor mask, positions;
  if (!mask_.empty()) {
    std::vector<int64_t> mask_values, position_values;
    mask_values.reserve(static_cast<size_t>(N * T));
    position_values.reserve(static_cast<size_t>(N * L));
    for (int64_t r = 0; r < N; ++r) {
      auto& m = mask_[r];
      m.resize(static_cast<size_t>(T), 1);  // generated tokens are real tokens
      int64_t count = 0;
      for (int64_t t = 0; t < T; ++t) {
        mask_values.push_back(m[t]);
        count += m[t] != 0;
        if (t >= start) position_values.push_back(m[t] ? count - 1 : 1);
      }
    }
    mask = Tensor::from_values(mask_values, {N, T});
    positions = Tensor::from_values(position_values, {N, L});
    fo.attention_mask = &mask;
    fo.position_ids = &positions;
  }
  return model.forward(ids, fo);
}

void StepInputs::reorder(std::span<const int64_t> rows) {
  if (mask_.empty()) return;
  std::vector<std::vector<int64_t>> next;
  next.reserve(rows.size());
  for (int64_t r : rows) next.push_back(mask_.at(static_cast<size_t>(r)));
  mask_ = std::move(next);
}

}  // namespace transformers::generation_detail
