// OpenAI's sampling fields -> a GenerationConfig and the manager's request options, with v5's
// mappings (temperature 0 -> greedy, frequency_penalty -> repetition_penalty = 1 + penalty,
// logit_bias -> sequence_bias, stop -> stop_strings, extra generation_config over the model's).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "transformers/config/generation_config.h"
#include "transformers/io/json.h"
#include "transformers/serving/model_store.h"

namespace transformers::serving {

struct SamplingLimits {
  int64_t max_tokens = 4096;      // the most a request may ask for (400 beyond)
  int64_t default_tokens = 1024;  // when a request gives none (v5 raises the model's default to 1024)
  std::optional<uint64_t> default_seed;
};

struct SamplingRequest {
  GenerationConfig config;
  std::optional<uint64_t> seed;
  int top_logprobs = -1;  // -1: no logprobs
  std::vector<std::string> stop;
  bool json_object = false;  // response_format {"type": "json_object"}: decoding constrained to one JSON object
  int64_t n = 1;  // choices: sequences generated from the same prompt (choice i samples with seed + i)
};

constexpr int64_t kMaxChoices = 16;  // n beyond this is a 400: each choice is a sequence in the batch

// `max_tokens_fields`: the names this endpoint accepts for the token budget, first wins
// (chat: max_completion_tokens, max_tokens; responses: max_output_tokens).
SamplingRequest parse_sampling(const Json& body, const ServedModel& model, const SamplingLimits& limits,
                               const std::vector<std::string>& max_tokens_fields);

}  // namespace transformers::serving
