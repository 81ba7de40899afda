// The model call of one decoding step, shared by greedy/sampling and beam search: with a cache
// only the tokens the cache has not seen are fed; without one the whole rows are re-run. Left
// padding is carried by the attention mask ([N, past + L], 0 = padding), grown by a 1 per
// generated token, and by position ids derived from it as Transformers does
// (position_ids = cumsum(mask) - 1, 1 at padded slots), so a padded row gets the positions it
// would have alone.
#pragma once

#include <span>
#include <vector>

#include "transformers/models/causal_lm.h"

namespace transformers::generation_detail {

class StepInputs {
 public:
  // prompt_mask: one row per sequence (1 = token, 0 = padding); empty when nothing is padded.
  explicit StepInputs(std::vector<std::vector<int64_t>> prompt_mask) : mask_(std::move(prompt_mask)) {}

  // Last-position logits [N, 1, V] (and hidden states when asked) for rows of equal length.
  CausalLMOutput forward(const CausalLM& model, Cache* cache, const std::vector<std::vector<int64_t>>& rows,
                         bool output_hidden_states, bool output_attentions = false);
  // Beam search: row i of the next step continues old row rows[i].
  void reorder(std::span<const int64_t> rows);

 private:
  std::vector<std::vector<int64_t>> mask_;
};

}  // namespace transformers::generation_detail
