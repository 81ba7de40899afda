// Internal: what the decoding loops (sample_loop in generate.cpp, beam_search.cpp) share once
// generate() has resolved the config, the inputs and the cache.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "transformers/generation/generate.h"
#include "transformers/generation/sampling.h"
#include "transformers/generation/step_inputs.h"

namespace transformers::generation_detail {

// The scores of one step, [rows, vocab] row-major on the host. The last-position logits come
// back from the model once per step (ops::to_float_vector: on a GPU the one device-to-host copy
// of the step); the processors, the checks and the choice of the next tokens work here.
struct StepScores {
  int64_t rows = 0, vocab = 0;
  std::vector<float> values;

  std::span<float> row(int64_t r) { return {values.data() + r * vocab, static_cast<size_t>(vocab)}; }
  std::span<const float> row(int64_t r) const { return {values.data() + r * vocab, static_cast<size_t>(vocab)}; }
  Tensor tensor() const { return Tensor::from_values(values, {rows, vocab}); }  // for outputs
};

struct Decoding {
  const CausalLM& model;
  const GenerationConfig& config;  // max_length resolved to prompt + new tokens
  const GenerateOptions& options;
  LogitsProcessorList processors;
  StoppingCriteriaList criteria;
  std::shared_ptr<Cache> cache;  // null without a cache
  StepInputs inputs;
  SamplingRng rng;
  int64_t batch_size = 0;     // before expansion
  int64_t prompt_length = 0;  // padded prompt length
  bool output_scores = false;

  // Runs the model on `rows` and returns the last-position logits [N, V] (a host copy the caller
  // may modify); records logits and hidden states into `out` when the config asks.
  StepScores step(const std::vector<std::vector<int64_t>>& rows, GenerateOutput& out);
};

GenerateOutput beam_search(Decoding& d, std::vector<std::vector<int64_t>> rows);

// The processed scores [N, V] of generation step `step` (0 = the first new token) must hold no
// NaN, and, when they become probabilities (sampling, beams), no +inf: v5 raises on such
// probabilities; a NaN row would otherwise turn silently into token 0 or an empty beam result.
void check_step_scores(const StepScores& scores, int64_t step, bool allow_positive_inf);

}  // namespace transformers::generation_detail
