// CausalLM: what every *ForCausalLM model offers (forward with an optional cache, hidden
// states, a cache factory), and DecoderForCausalLM, the decoder skeleton with an LM head that the
// Llama-family model files configure.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "transformers/cache/cache.h"
#include "transformers/cache/paged_cache.h"
#include "transformers/config/generation_config.h"
#include "transformers/config/pretrained_config.h"
#include "transformers/nn/decoder.h"

namespace transformers {

struct ForwardOptions {
  Cache* cache = nullptr;
  bool output_hidden_states = false;
  bool output_attentions = false;          // per layer [B, H, L, T] attention probabilities
  int64_t logits_to_keep = 0;              // 0: logits for every position; n: the last n
  const Tensor* attention_mask = nullptr;  // [B, past + L], nonzero = real token
  const Tensor* position_ids = nullptr;    // [B, L] I64
  // Continuous batching: input_ids is ragged->input_ids (packed tokens of many sequences, their
  // K/V in ragged->cache's pages); logits come for ragged->logit_rows only (all rows when empty).
  // cache, attention_mask, position_ids and logits_to_keep must be unset.
  const RaggedBatch* ragged = nullptr;
};

struct CausalLMOutput {
  Tensor logits;                      // [B, L or logits_to_keep, V] f32
  std::vector<Tensor> hidden_states;  // [layers + 1] x [B, L, H] when asked
  std::vector<Tensor> attentions;     // [layers] x [B, H, L, T] when asked
};

class CausalLM : public nn::Module {
 public:
  explicit CausalLM(PretrainedConfig config) : config_(std::move(config)) {}
  virtual CausalLMOutput forward(const Tensor& input_ids, const ForwardOptions& options = {}) const = 0;
  // A cache laid out for this model (sliding-window layers where the config asks for them).
  virtual std::unique_ptr<Cache> make_cache() const = 0;
  // What each layer keeps per token, for a paged cache (cache/paged_cache.h); a model without
  // a ragged forward throws NotImplementedError.
  virtual std::vector<PagedLayerSpec> kv_layout() const;
  // Parameters that share storage with another: (target, source), e.g. a tied LM head.
  virtual std::vector<std::pair<std::string, std::string>> tied_weights() const { return {}; }
  // The prefix of the base model's parameters ("model"; GPT-2: "transformer"): checkpoints of
  // the bare base model (keys without it) load too, as in Transformers.
  virtual std::string base_model_prefix() const { return "model"; }

  const PretrainedConfig& config() const { return config_; }
  GenerationConfig generation_config;
  DType dtype = DType::F32;  // the dtype the weight matrices were loaded in

 private:
  PretrainedConfig config_;
};

class DecoderForCausalLM : public CausalLM {
 public:
  DecoderForCausalLM(PretrainedConfig config, const nn::DecoderConfig& decoder);
  CausalLMOutput forward(const Tensor& input_ids, const ForwardOptions& options = {}) const override;
  std::unique_ptr<Cache> make_cache() const override;
  std::vector<PagedLayerSpec> kv_layout() const override;
  std::vector<std::pair<std::string, std::string>> tied_weights() const override;

  nn::DecoderModel model;
  nn::Linear lm_head;
};

// The fields every Llama-like config shares (sizes, norm eps, activation, one AttentionConfig
// and one RopeParameters per layer with no sliding window). Model files adjust the result.
nn::DecoderConfig llama_like_decoder_config(const PretrainedConfig& config);

// The final hidden states [B, L, H] whose logits forward returns: the last logits_to_keep
// positions, or a ragged batch's logit_rows (as [1, rows, H]).
Tensor hidden_for_logits(const Tensor& hidden, const ForwardOptions& options);
// A paged layout entry for each attention config.
std::vector<PagedLayerSpec> kv_layout_of(const std::vector<nn::AttentionConfig>& layers);

// Position ids [B, L] = past, past + 1, ... on every row (no padding information).
Tensor default_position_ids(int64_t batch, int64_t length, int64_t past);
// Models with learned position embeddings (GPT-2, BERT) have none past `limit`: ValueError
// naming the position and the limit instead of an out-of-range embedding lookup.
void check_learned_positions(const Tensor& position_ids, int64_t limit, const char* what);

// A sequence of `length` tokens given at once must fit max_position_embeddings unless the rotary
// parameters scale past it (v5 leaves this to an index error or garbage): ValueError naming
// `what`, the length and the limit. A config without max_position_embeddings passes.
void check_sequence_length(const PretrainedConfig& config, int64_t length, const char* what);

// Sliding windows per layer from config.layer_types when present ("sliding_attention" layers get
// config.sliding_window); returns false when the config has no layer_types.
bool apply_layer_types(const PretrainedConfig& config, nn::DecoderConfig& decoder);

}  // namespace transformers
