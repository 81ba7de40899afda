// Rotary position embedding: inverse frequencies from rope_parameters, following v5's
// ROPE_INIT_FUNCTIONS (modeling_rope_utils.py): default, linear, dynamic (NTK), yarn, longrope,
// llama3, proportional; partial_rotary_factor. cos/sin tables for given positions are computed in
// float32 the way PyTorch does, so that long positions agree too. An unknown rope_type is a
// ConfigError naming the supported ones.
#pragma once

#include <mutex>
#include <vector>

#include "transformers/config/pretrained_config.h"
#include "transformers/core/tensor.h"

namespace transformers::nn {

class RotaryEmbedding {
 public:
  // head_dim: the attention head size; the rotated part is head_dim * partial_rotary_factor
  // (proportional: always head_dim, with the unrotated pairs at frequency 0).
  // max_position_embeddings: config.max_position_embeddings (dynamic's reference length, and
  // the default original_max_position_embeddings of yarn, longrope and llama3).
  RotaryEmbedding(const RopeParameters& rope, int64_t head_dim, int64_t max_position_embeddings);

  // position_ids [B, L] (I64) -> cos, sin [B, L, rotary_dim] f32, already multiplied by the
  // attention scaling of the rope type. dynamic and longrope pick their frequencies from the
  // sequence length max(position_ids) + 1, as v5's dynamic_rope_update does: longrope by that
  // length alone; dynamic keeps the table of the longest sequence seen (grown past
  // max_position_embeddings) until a sequence shorter than max_position_embeddings resets it.
  std::pair<Tensor, Tensor> cos_sin(const Tensor& position_ids) const;

  // The frequencies a call with `seq_len` positions uses, updating dynamic's state as cos_sin does.
  std::vector<float> inv_freq_for(int64_t seq_len) const;

  int64_t rotary_dim() const { return rotary_dim_; }
  const std::vector<float>& inv_freq() const { return inv_freq_; }  // at seq_len <= the original length
  float attention_scaling() const { return attention_scaling_; }

 private:
  RopeParameters rope_;
  int64_t rotary_dim_;
  int64_t max_position_embeddings_;
  std::vector<float> inv_freq_;
  std::vector<float> long_inv_freq_;     // longrope, beyond original_max_position_embeddings
  int64_t original_max_position_embeddings_ = 0;
  float attention_scaling_ = 1.0f;
  // dynamic: the state of v5's dynamic_frequency_update (max_seq_len_cached and its table).
  mutable std::mutex dynamic_mutex_;
  mutable int64_t dynamic_cached_len_ = 0;
  mutable std::vector<float> dynamic_inv_freq_;
};

}  // namespace transformers::nn
