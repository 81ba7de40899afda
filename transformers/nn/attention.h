// Multi-head self-attention with grouped K/V heads, optional q/k norms (Qwen3, Gemma3), rotary
// embedding, a KV cache layer and sliding windows. Projections are nn::Linear.
#pragma once

#include <memory>
#include <optional>

#include "transformers/cache/cache.h"
#include "transformers/nn/layers.h"

namespace transformers::nn {

struct AttentionConfig {
  int64_t hidden_size = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  bool qkv_bias = false;
  bool o_bias = false;
  bool qk_norm = false;  // RMSNorm over head_dim on q and k, before rope
  double qk_norm_eps = 1e-6;
  bool qk_norm_unit_offset = false;
  double scaling = 0.0;  // 0: head_dim^-0.5
  std::optional<int64_t> sliding_window;
  double softcap = 0.0;
};

// Per-forward inputs shared by all layers.
struct AttentionInputs {
  const Tensor* cos = nullptr;  // [B, L, R]
  const Tensor* sin = nullptr;
  int64_t query_position = 0;  // cache position of the first token of this forward
  const Tensor* key_padding_mask = nullptr;
};

class Attention : public Module {
 public:
  explicit Attention(const AttentionConfig& config);
  // x [B, L, hidden] -> [B, L, hidden]. cache may be null (no cache: attend to this input only).
  Tensor forward(const Tensor& x, const AttentionInputs& in, CacheLayer* cache) const;
  const AttentionConfig& config() const { return config_; }

  Linear q_proj, k_proj, v_proj, o_proj;
  std::unique_ptr<RMSNorm> q_norm, k_norm;

 private:
  AttentionConfig config_;
};

// The feed-forward block of a decoder layer: a dense MLP, or a mixture of experts (nn/ MoE
// blocks), chosen per layer by the model file.
class FeedForward : public Module {
 public:
  virtual Tensor forward(const Tensor& x) const = 0;
};

// gate/up/down MLP: down(act(gate(x)) * up(x)).
class GatedMLP : public FeedForward {
 public:
  GatedMLP(int64_t hidden, int64_t intermediate, ops::Activation act, bool bias);
  Tensor forward(const Tensor& x) const override;
  Linear gate_proj, up_proj, down_proj;

 private:
  ops::Activation act_;
};

}  // namespace transformers::nn
