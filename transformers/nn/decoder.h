// The pre-norm decoder skeleton that Llama, Mistral, Qwen2 and Qwen3 share (and that Gemma,
// Phi3, OLMo2, ... vary through DecoderConfig): embeddings, N layers of
// x + attn(norm(x)), x + mlp(norm(x)), a final norm. Parameter names follow the Hub checkpoints.
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

struct DecoderConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  double norm_eps = 1e-6;
  ops::Activation activation = ops::Activation::SiLU;
  bool mlp_bias = false;
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

  RMSNorm input_layernorm;
  Attention self_attn;
  RMSNorm post_attention_layernorm;
  std::unique_ptr<FeedForward> mlp;
};

struct DecoderForwardOptions {
  Cache* cache = nullptr;
  bool output_hidden_states = false;
  const Tensor* position_ids = nullptr;   // [B, L] I64; default: cache position onwards
  const Tensor* attention_mask = nullptr;  // [B, past + L] nonzero = real token
};

struct DecoderOutput {
  Tensor last_hidden_state;            // [B, L, H] after the final norm
  std::vector<Tensor> hidden_states;   // when asked: embeddings, layer outputs, final normed
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
  RMSNorm norm;

 private:
  DecoderConfig config_;
  std::vector<std::unique_ptr<RotaryEmbedding>> rotary_;  // distinct tables
  std::vector<size_t> rotary_of_layer_;
};

}  // namespace transformers::nn
