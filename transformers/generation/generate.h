// generate(): the decoding loop. Greedy search today (the sampling processors, beams and the
// four v5 output classes arrive with the generation issue); with the KV cache it feeds one token
// per step, without it re-runs the whole sequence (the reference the cache is tested against).
#pragma once

#include <functional>
#include <vector>

#include "transformers/config/generation_config.h"
#include "transformers/models/causal_lm.h"

namespace transformers {

struct GenerateOutput {
  std::vector<std::vector<int64_t>> sequences;  // prompt + generated ids, per batch row
  std::vector<Tensor> scores;                   // per step: [B, V] logits of the chosen step
};

struct GenerateOptions {
  bool use_cache = true;
  bool output_scores = false;
  // Called after every step with the token chosen for each batch row (a streamer hook).
  std::function<void(const std::vector<int64_t>& next_tokens)> on_step;
};

// input_ids: [B, L] I64. Stops after max_new_tokens (or max_length - L) or when every row has
// produced an eos token; finished rows are padded with pad_token_id (else the eos id), as
// Transformers does.
GenerateOutput generate(const CausalLM& model, const Tensor& input_ids, const GenerationConfig& config,
                        const GenerateOptions& options = {});

}  // namespace transformers
