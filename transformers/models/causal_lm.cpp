#include "transformers/models/causal_lm.h"

namespace transformers {

DecoderForCausalLM::DecoderForCausalLM(PretrainedConfig config, const nn::DecoderConfig& decoder)
    : CausalLM(std::move(config)), model(decoder), lm_head(decoder.hidden_size, decoder.vocab_size, decoder.lm_head_bias) {
  register_module("model", &model);
  register_module("lm_head", &lm_head);
}

std::vector<std::pair<std::string, std::string>> DecoderForCausalLM::tied_weights() const {
  if (config().tie_word_embeddings) return {{"lm_head.weight", "model.embed_tokens.weight"}};
  return {};
}

std::unique_ptr<Cache> DecoderForCausalLM::make_cache() const { return std::make_unique<Cache>(model.layer_windows()); }

CausalLMOutput DecoderForCausalLM::forward(const Tensor& input_ids, const ForwardOptions& o) const {
  nn::DecoderForwardOptions d;
  d.cache = o.cache;
  d.output_hidden_states = o.output_hidden_states;
  d.output_attentions = o.output_attentions;
  d.position_ids = o.position_ids;
  d.attention_mask = o.attention_mask;
  d.ragged = o.ragged;
  nn::DecoderOutput h = model.forward(input_ids, d);
  Tensor logits = lm_head.forward(hidden_for_logits(h.last_hidden_state, o));
  const nn::DecoderConfig& dc = model.config();
  if (dc.logit_scale > 0) ops::scale_(logits, static_cast<float>(dc.logit_scale));
  if (dc.final_logit_softcap > 0) ops::softcap_(logits, static_cast<float>(dc.final_logit_softcap));
  return {logits, std::move(h.hidden_states), std::move(h.attentions)};
}

std::vector<PagedLayerSpec> CausalLM::kv_layout() const {
  throw NotImplementedError(detail::concat(config().model_type, ": no paged KV layout (continuous batching)"));
}

std::vector<PagedLayerSpec> DecoderForCausalLM::kv_layout() const { return kv_layout_of(model.config().attention); }

std::vector<PagedLayerSpec> kv_layout_of(const std::vector<nn::AttentionConfig>& layers) {
  std::vector<PagedLayerSpec> out;
  for (const auto& a : layers) out.push_back({a.num_kv_heads, a.head_dim, a.sliding_window});
  return out;
}

Tensor hidden_for_logits(const Tensor& hidden, const ForwardOptions& o) {
  const int64_t L = hidden.size(1);
  if (o.ragged) {
    TCPP_CHECK(o.logits_to_keep == 0, ValueError, "forward: logits_to_keep does not apply to a ragged batch (use logit_rows)");
    if (o.ragged->logit_rows.empty()) return hidden;
    const Tensor rows = Tensor::from_values(o.ragged->logit_rows, {static_cast<int64_t>(o.ragged->logit_rows.size())});
    const Tensor picked = ops::index_select(hidden.select(0, 0), rows);
    return picked.view({1, picked.size(0), picked.size(1)});
  }
  if (o.logits_to_keep > 0 && o.logits_to_keep < L) return hidden.slice(1, L - o.logits_to_keep, L);
  return hidden;
}

Tensor default_position_ids(int64_t B, int64_t L, int64_t past) { return ops::position_ids(B, L, past); }

void check_learned_positions(const Tensor& position_ids, int64_t limit, const char* what) {
  TCPP_CHECK(position_ids.dtype() == DType::I64, ShapeError, "position_ids must be int64, got ", position_ids.describe());
  if (position_ids.numel() == 0) return;
  const auto [lo, hi] = ops::min_max(position_ids);
  const int64_t v = lo < 0 ? lo : hi;
  TCPP_CHECK(v >= 0 && v < limit, ValueError, "position ", v, " is outside the ", limit, " learned positions of ", what,
             ": the sequence is too long for this model");
}

namespace {

bool has_rope_scaling(const PretrainedConfig& c) {
  if (c.rope_parameters.rope_type != "default") return true;
  for (const auto& [type, rope] : c.rope_parameters_by_layer_type)
    if (rope.rope_type != "default") return true;
  return false;
}

}  // namespace

void check_sequence_length(const PretrainedConfig& c, int64_t length, const char* what) {
  TCPP_CHECK(c.max_position_embeddings <= 0 || length <= c.max_position_embeddings || has_rope_scaling(c), ValueError,
             what, ": the input has ", length, " tokens but the model's max_position_embeddings is ",
             c.max_position_embeddings, " and its rope_parameters have no scaling (rope_type 'default')");
}

nn::DecoderConfig llama_like_decoder_config(const PretrainedConfig& c) {
  const std::string w = c.where();
  const std::pair<const char*, int64_t> required[] = {{"vocab_size", c.vocab_size},
                                                       {"hidden_size", c.hidden_size},
                                                       {"intermediate_size", c.intermediate_size},
                                                       {"num_hidden_layers", c.num_hidden_layers},
                                                       {"num_attention_heads", c.num_attention_heads}};
  // from_json refused present values out of range, so 0 here means absent.
  for (const auto& [key, value] : required) TCPP_CHECK(value > 0, ConfigError, w, ": missing key '", key, "'");
  TCPP_CHECK(c.head_dim > 0, ConfigError, w, ": head_dim is ", c.head_dim, " (hidden_size ", c.hidden_size,
             " / num_attention_heads ", c.num_attention_heads, "), out of range");
  nn::DecoderConfig d;
  d.vocab_size = c.vocab_size;
  d.hidden_size = c.hidden_size;
  d.intermediate_size = c.intermediate_size;
  d.num_layers = c.num_hidden_layers;
  d.norm_eps = c.rms_norm_eps;
  d.activation = ops::activation_from_name(c.hidden_act, w + ": hidden_act");
  d.max_position_embeddings = c.max_position_embeddings;
  nn::AttentionConfig a;
  a.hidden_size = c.hidden_size;
  a.num_heads = c.num_attention_heads;
  a.num_kv_heads = c.num_key_value_heads;
  a.head_dim = c.head_dim;
  a.qk_norm_eps = c.rms_norm_eps;
  d.attention.assign(static_cast<size_t>(c.num_hidden_layers), a);
  d.rope.assign(static_cast<size_t>(c.num_hidden_layers), c.rope_parameters);
  return d;
}

bool apply_layer_types(const PretrainedConfig& c, nn::DecoderConfig& d) {
  if (c.layer_types.empty()) return false;
  TCPP_CHECK(c.layer_types.size() == static_cast<size_t>(c.num_hidden_layers), ConfigError, c.where(),
             ": layer_types has ", c.layer_types.size(), " entries for ", c.num_hidden_layers, " layers");
  for (size_t i = 0; i < c.layer_types.size(); ++i) {
    const std::string& t = c.layer_types[i];
    if (t == "sliding_attention") {
      TCPP_CHECK(c.sliding_window.has_value(), ConfigError, c.where(),
                 ": layer_types names a sliding_attention layer but sliding_window is not set");
      d.attention[i].sliding_window = c.sliding_window;
    } else if (t == "full_attention") {
      d.attention[i].sliding_window.reset();
    } else {
      throw ConfigError(detail::concat(c.where(), ": unsupported layer type '", t, "' in layer_types"));
    }
    d.rope[i] = c.rope_for_layer_type(t);
  }
  return true;
}

}  // namespace transformers
