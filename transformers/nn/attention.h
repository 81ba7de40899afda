// Multi-head self-attention with grouped K/V heads, optional q/k norms (Qwen3, Gemma3, OLMo2,
// Cohere), rotary embedding (or none: GPT-2, BERT), a KV cache layer, sliding windows, logit
// softcapping, causal or bidirectional masks. Projections are nn::Linear, separate or fused
// into one [q; k; v] matrix (Phi3's qkv_proj, GPT-2's c_attn), named as the checkpoint names them.
#pragma once

#include <memory>
#include <optional>

#include "transformers/cache/cache.h"
#include "transformers/cache/paged_cache.h"
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
  bool qk_norm_full = false;  // OLMo2: the norm spans all heads (num_heads * head_dim), not one head
  NormConfig::Kind qk_norm_kind = NormConfig::Kind::RMS;  // Cohere: LayerNorm without bias, per head
  bool qk_norm_bias = false;                                // Phi-2's q_layernorm / k_layernorm
  bool qk_norm_head_weights = false;  // Cohere: a weight row per head, [heads, head_dim]
  // Cohere: rope rotates interleaved pairs (x0, x1), (x2, x3), ... instead of the two halves.
  bool rope_interleaved = false;
  std::optional<int64_t> sliding_window;
  double softcap = 0.0;
  bool causal = true;     // false: encoders (BERT, ModernBERT) attend both ways
  bool fused_qkv = false;  // one projection whose output rows are [q; k; v]
  struct Names {
    std::string q = "q_proj", k = "k_proj", v = "v_proj", o = "o_proj", qkv = "qkv_proj";
    std::string q_norm = "q_norm", k_norm = "k_norm";
  } names;
};

// Per-forward inputs shared by all layers.
struct AttentionInputs {
  const Tensor* cos = nullptr;  // [B, L, R]; null: no rotary embedding (learned positions)
  const Tensor* sin = nullptr;
  int64_t query_position = 0;  // cache position of the first token of this forward
  const Tensor* key_padding_mask = nullptr;
  // output_attentions: each layer appends its probabilities [B, H, L, T] here.
  std::vector<Tensor>* attentions = nullptr;
  // A ragged batch (continuous batching): x is [1, T] packed tokens of many sequences, cos/sin
  // are per token, and K/V go to this layer's pages instead of a CacheLayer (which must be null);
  // query_position and key_padding_mask are unused.
  const RaggedLayer* ragged = nullptr;
};

class Attention : public Module {
 public:
  explicit Attention(const AttentionConfig& config);
  // x [B, L, hidden] -> [B, L, hidden]. cache may be null (no cache: attend to this input only).
  Tensor forward(const Tensor& x, const AttentionInputs& in, CacheLayer* cache) const;
  const AttentionConfig& config() const { return config_; }

  // q_proj, k_proj, v_proj when separate; qkv_proj when fused.
  std::unique_ptr<Linear> q_proj, k_proj, v_proj, qkv_proj;
  Linear o_proj;
  std::unique_ptr<Norm> q_norm, k_norm;

 private:
  AttentionConfig config_;
};

// The feed-forward block of a decoder layer: a dense MLP, or a mixture of experts (nn/ MoE
// blocks), chosen per layer by the model file.
class FeedForward : public Module {
 public:
  virtual Tensor forward(const Tensor& x) const = 0;
};

// gate/up/down MLP: down(act(gate(x)) * up(x)). `fused`: one gate_up_proj whose output is
// [gate; up] (Phi3).
class GatedMLP : public FeedForward {
 public:
  GatedMLP(int64_t hidden, int64_t intermediate, ops::Activation act, bool bias, bool fused = false);
  Tensor forward(const Tensor& x) const override;
  std::unique_ptr<Linear> gate_proj, up_proj, gate_up_proj;
  Linear down_proj;

 private:
  ops::Activation act_;
};

// up/down MLP without a gate: down(act(up(x))) (GPT-2's c_fc/c_proj, BERT, Phi-2's fc1/fc2,
// StarCoder2's c_fc/c_proj), named as the checkpoint names them.
class DenseMLP : public FeedForward {
 public:
  DenseMLP(int64_t hidden, int64_t intermediate, ops::Activation act, bool bias, const std::string& up_name,
           const std::string& down_name);
  Tensor forward(const Tensor& x) const override;
  Linear up, down;

 private:
  ops::Activation act_;
};

}  // namespace transformers::nn
