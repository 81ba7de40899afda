// Rotary position embedding: inverse frequencies from rope_parameters (v5's ROPE_INIT_FUNCTIONS:
// default, linear, llama3, ...) and cos/sin tables for given positions, computed in float32 the
// way PyTorch does so that long positions agree too.
#pragma once

#include <vector>

#include "transformers/config/pretrained_config.h"
#include "transformers/core/tensor.h"

namespace transformers::nn {

class RotaryEmbedding {
 public:
  // head_dim: the attention head size; the rotated part is head_dim * partial_rotary_factor.
  RotaryEmbedding(const RopeParameters& rope, int64_t head_dim, int64_t max_position_embeddings);

  // position_ids [B, L] (I64) -> cos, sin [B, L, rotary_dim] f32, already multiplied by the
  // attention scaling of the rope type.
  std::pair<Tensor, Tensor> cos_sin(const Tensor& position_ids) const;

  int64_t rotary_dim() const { return rotary_dim_; }
  const std::vector<float>& inv_freq() const { return inv_freq_; }
  float attention_scaling() const { return attention_scaling_; }

 private:
  int64_t rotary_dim_;
  std::vector<float> inv_freq_;
  float attention_scaling_ = 1.0f;
};

}  // namespace transformers::nn
