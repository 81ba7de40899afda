// The decoder skeleton that Llama, Mistral, Qwen2 and Qwen3 share (pre-norm: x + attn(norm(x)),
// x + mlp(norm(x))) and that Gemma, Gemma2/3, Phi3, OLMo2, Cohere, Phi, StarCoder2 vary through
// DecoderConfig: where the norms sit, which norm, embedding scale, fused projections, a parallel
// residual. Parameter names follow the Hub checkpoints.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transformers/cache/cache.h"
#include "transformers/config/pretrained_config.h"
#include "transformers/nn/attention.h"
#include "transformers/nn/rotary.h"

namespace transformers::nn {

// Where a layer's norms sit (names as in the checkpoints):
//   Pre:      h = x + attn(input_layernorm(x));  out = h + mlp(post_attention_layernorm(h))
//   Sandwich: h = x + post_attention_layernorm(attn(input_layernorm(x)));
//             out = h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)))   (Gemma2/3)
//   Post:     h = x + post_attention_layernorm(attn(x));
//             out = h + post_feedforward_layernorm(mlp(h))                            (OLMo2)
//   Parallel: n = input_layernorm(x);  out = x + attn(n) + mlp(n)                  (Phi-2, Cohere)
enum class NormPlacement { Pre, Sandwich, Post, Parallel };

struct DecoderConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  double norm_eps = 1e-6;
  NormConfig::Kind norm_kind = NormConfig::Kind::RMS;
  bool norm_unit_offset = false;  // Gemma: x * (1 + weight)
  bool norm_bias = true;          // LayerNorm kinds only
  NormPlacement norm_placement = NormPlacement::Pre;
  std::string final_norm_name = "norm";
  // Embeddings are multiplied by this (Gemma: sqrt(hidden_size), rounded to the embedding
  // weight's dtype as Transformers rounds it to the activation dtype); 0: no scaling.
  double embedding_scale = 0.0;
  // Applied to the LM head's logits: logits * logit_scale (Cohere), then
  // cap * tanh(logits / cap) (Gemma2). 0: off.
  double logit_scale = 0.0;
  double final_logit_softcap = 0.0;
  bool lm_head_bias = false;  // Phi-2
  ops::Activation activation = ops::Activation::SiLU;
  bool mlp_bias = false;
  bool fused_gate_up = false;  // Phi3's gate_up_proj
  // Ungated up/down MLP (Phi-2 fc1/fc2, StarCoder2 c_fc/c_proj) with these names instead of
  // the gated MLP; empty: gated.
  std::string dense_mlp_up, dense_mlp_down;
  // Per-layer attention settings (sliding windows differ per layer); same length as num_layers.
  std::vector<AttentionConfig> attention;
  // Per-layer rotary parameters (one per layer type; layers share tables with equal parameters).
  std::vector<RopeParameters> rope;
  int64_t max_position_embeddings = 0;
  // The feed-forward block of layer i (e.g. a MoE block on some layers); unset: a GatedMLP of
  // intermediate_size with `activation` and `mlp_bias`.
  std::function<std::unique_ptr<FeedForward>(const DecoderConfig&, size_t layer)> make_mlp;
};

class DecoderLayer : public Module {
 public:
  DecoderLayer(const DecoderConfig& config, size_t index);
  Tensor forward(const Tensor& x, const AttentionInputs& in, CacheLayer* cache) const;

  // Present or not according to DecoderConfig::norm_placement.
  std::unique_ptr<Norm> input_layernorm, post_attention_layernorm, pre_feedforward_layernorm,
      post_feedforward_layernorm;
  Attention self_attn;
  std::unique_ptr<FeedForward> mlp;

 private:
  NormPlacement placement_;
};

struct DecoderForwardOptions {
  Cache* cache = nullptr;
  bool output_hidden_states = false;
  bool output_attentions = false;
  const Tensor* position_ids = nullptr;   // [B, L] I64; default: cache position onwards
  const Tensor* attention_mask = nullptr;  // [B, past + L] nonzero = real token
  // Continuous batching: input_ids is the batch's packed [1, T] tokens, positions are its own,
  // K/V live in its paged cache (cache, position_ids and attention_mask must be null).
  const RaggedBatch* ragged = nullptr;
};

NormConfig decoder_norm_config(const DecoderConfig& config);

struct DecoderOutput {
  Tensor last_hidden_state;            // [B, L, H] after the final norm
  std::vector<Tensor> hidden_states;   // when asked: embeddings, layer outputs, final normed
  std::vector<Tensor> attentions;      // when asked: per layer [B, H, L, T]
};

// The "model." part of a ForCausalLM checkpoint.
class DecoderModel : public Module {
 public:
  explicit DecoderModel(const DecoderConfig& config);
  DecoderOutput forward(const Tensor& input_ids, const DecoderForwardOptions& options) const;
  const DecoderConfig& config() const { return config_; }
  // Per-layer sliding windows, for building a matching cache.
  std::vector<std::optional<int64_t>> layer_windows() const;

  Embedding embed_tokens;
  std::vector<std::unique_ptr<DecoderLayer>> layers;
  Norm norm;

 private:
  DecoderConfig config_;
  std::vector<std::unique_ptr<RotaryEmbedding>> rotary_;  // distinct tables
  std::vector<size_t> rotary_of_layer_;
};

}  // namespace transformers::nn
