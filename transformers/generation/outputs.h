// The four output classes v5 keeps (generation/utils.py). Sequences are rows of ids (prompt +
// generated; finished rows padded); per-step tensors are f32 with one row per sequence in the
// expanded batch (batch * num_beams for beam search, batch * num_return_sequences for sampling).
#pragma once

#include <memory>
#include <vector>

#include "transformers/cache/cache.h"
#include "transformers/core/tensor.h"

namespace transformers {

struct GenerateDecoderOnlyOutput {
  std::vector<std::vector<int64_t>> sequences;
  std::vector<Tensor> scores;  // output_scores: per step [N, V], after the logits processors
  std::vector<Tensor> logits;  // output_logits: per step [N, V], the model's raw last-position logits
  // output_hidden_states: per step, per layer (embeddings first, final norm last) [N, L_step, H].
  std::vector<std::vector<Tensor>> hidden_states;
  // output_attentions: per step, per layer [N, H, L_step, T] attention probabilities.
  std::vector<std::vector<Tensor>> attentions;
  std::shared_ptr<Cache> past_key_values;  // the cache after the last step (when one was used)
};

struct GenerateEncoderDecoderOutput {
  std::vector<std::vector<int64_t>> sequences;
  std::vector<Tensor> scores, logits;
  std::vector<Tensor> encoder_hidden_states, encoder_attentions;
  std::vector<std::vector<Tensor>> decoder_hidden_states, decoder_attentions, cross_attentions;
  std::shared_ptr<Cache> past_key_values;
};

struct BeamOutputFields {
  // The length-penalised log-probability of each returned sequence (v5 returns it with
  // output_scores; here it is always filled).
  std::vector<float> sequences_scores;
  // Per returned sequence and generated step: the row (batch * num_beams + beam) of the expanded
  // batch whose scores produced that token; -1 after the sequence ended.
  std::vector<std::vector<int64_t>> beam_indices;
};

struct GenerateBeamDecoderOnlyOutput : GenerateDecoderOnlyOutput, BeamOutputFields {};
struct GenerateBeamEncoderDecoderOutput : GenerateEncoderDecoderOutput, BeamOutputFields {};

// What generate() returns for a decoder-only model: every field of
// GenerateBeamDecoderOnlyOutput; the beam fields stay empty for greedy search and sampling
// (`is_beam_output()` tells which v5 class the result corresponds to).
struct GenerateOutput : GenerateBeamDecoderOnlyOutput {
  bool is_beam_output() const { return !beam_indices.empty(); }
};

}  // namespace transformers
