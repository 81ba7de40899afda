// generate(): v5's decoding loop for decoder-only models. The mode follows the config as in v5:
// greedy search (num_beams = 1, do_sample = false), multinomial sampling (do_sample), beam search
// (num_beams > 1) and beam sampling (both). Defaults, processor order, stopping rules and outputs
// are v5's (see logits_processors.h, stopping_criteria.h, beam_search.h, outputs.h).
//
// Batches: rows of equal length; shorter prompts are LEFT-padded and marked 0 in
// `attention_mask` (without a mask one is inferred from pad_token_id, as v5 does, when the pad
// token occurs in the input and differs from eos). Positions follow the mask, so a padded row
// generates what it would alone.
//
// Cache: the model's layout (DynamicCache from layer_types / sliding_window), or a preallocated
// StaticCache when the config says cache_implementation "static" (v5's hybrid aliases
// "sliding_window", "hybrid", "hybrid_chunked" map to it too), sized max(max_length,
// max_cache_len) tokens for batch * max(num_beams, num_return_sequences) rows.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "transformers/config/generation_config.h"
#include "transformers/generation/logits_processors.h"
#include "transformers/generation/outputs.h"
#include "transformers/generation/stopping_criteria.h"
#include "transformers/generation/streamers.h"
#include "transformers/models/causal_lm.h"

namespace transformers {

struct GenerateOptions {
  bool use_cache = true;       // and config.use_cache; false re-runs the whole rows every step
  bool output_scores = false;  // or config.output_scores
  // Called after every step with the token chosen for each row (greedy and sampling only).
  std::function<void(const std::vector<int64_t>& next_tokens)> on_step = {};
  // [B, L] (I64, I32 or U8), 1 = token, 0 = (left) padding.
  const Tensor* attention_mask = nullptr;
  // Sampling seed (see sampling.h for the generator); none: a random one.
  std::optional<uint64_t> seed = {};
  // Gets the prompt, then each step's token, then end() (batch size 1; not with beam search).
  BaseStreamer* streamer = nullptr;
  // Decodes ids to text; needed by stop_strings.
  TokenDecoder decode = {};
  // Added after the config's processors (before the sampling warpers), and criteria added to the
  // config's, as v5's logits_processor= and stopping_criteria= arguments.
  std::vector<std::shared_ptr<const LogitsProcessor>> logits_processors = {};
  std::vector<std::shared_ptr<const StoppingCriterion>> stopping_criteria = {};
  // v5's prefix_allowed_tokens_fn: (batch item, ids so far) -> the tokens allowed next.
  PrefixAllowedTokensFn prefix_allowed_tokens_fn = {};
};

// input_ids: [B, L] I64. Returns prompt + generated ids per row (finished rows padded with
// pad_token_id, else the first eos id), and the per-step tensors the config asks for.
GenerateOutput generate(const CausalLM& model, const Tensor& input_ids, const GenerationConfig& config,
                        const GenerateOptions& options = {});

}  // namespace transformers
