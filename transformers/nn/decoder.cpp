#include "transformers/nn/decoder.h"

namespace transformers::nn {

NormConfig decoder_norm_config(const DecoderConfig& c) {
  return {.kind = c.norm_kind, .eps = c.norm_eps, .unit_offset = c.norm_unit_offset, .bias = c.norm_bias};
}

namespace {

std::unique_ptr<FeedForward> default_mlp(const DecoderConfig& c) {
  if (!c.dense_mlp_up.empty())
    return std::make_unique<DenseMLP>(c.hidden_size, c.intermediate_size, c.activation, c.mlp_bias, c.dense_mlp_up,
                                      c.dense_mlp_down);
  return std::make_unique<GatedMLP>(c.hidden_size, c.intermediate_size, c.activation, c.mlp_bias, c.fused_gate_up);
}

}  // namespace

DecoderLayer::DecoderLayer(const DecoderConfig& c, size_t i)
    : self_attn(c.attention.at(i)), mlp(c.make_mlp ? c.make_mlp(c, i) : default_mlp(c)), placement_(c.norm_placement) {
  const NormConfig n = decoder_norm_config(c);
  auto norm = [&](std::unique_ptr<Norm>& slot) { slot = std::make_unique<Norm>(c.hidden_size, n); };
  const bool pre = placement_ != NormPlacement::Post;
  const bool post_attn = placement_ != NormPlacement::Parallel;
  const bool ff_pair = placement_ == NormPlacement::Sandwich || placement_ == NormPlacement::Post;
  if (pre) norm(input_layernorm);
  if (post_attn) norm(post_attention_layernorm);
  if (placement_ == NormPlacement::Sandwich) norm(pre_feedforward_layernorm);
  if (ff_pair) norm(post_feedforward_layernorm);
  // Registration order follows the checkpoints' key order (cosmetic: loading is by name).
  if (input_layernorm) register_module("input_layernorm", input_layernorm.get());
  register_module("self_attn", &self_attn);
  if (post_attention_layernorm) register_module("post_attention_layernorm", post_attention_layernorm.get());
  if (pre_feedforward_layernorm) register_module("pre_feedforward_layernorm", pre_feedforward_layernorm.get());
  if (post_feedforward_layernorm) register_module("post_feedforward_layernorm", post_feedforward_layernorm.get());
  register_module("mlp", mlp.get());
}

Tensor DecoderLayer::forward(const Tensor& x, const AttentionInputs& in, CacheLayer* cache) const {
  switch (placement_) {
    case NormPlacement::Pre: {
      Tensor h = self_attn.forward(input_layernorm->forward(x), in, cache);
      ops::add_(h, x);
      Tensor out = mlp->forward(post_attention_layernorm->forward(h));
      ops::add_(out, h);
      return out;
    }
    case NormPlacement::Sandwich: {
      Tensor h = post_attention_layernorm->forward(self_attn.forward(input_layernorm->forward(x), in, cache));
      ops::add_(h, x);
      Tensor out = post_feedforward_layernorm->forward(mlp->forward(pre_feedforward_layernorm->forward(h)));
      ops::add_(out, h);
      return out;
    }
    case NormPlacement::Post: {
      Tensor h = post_attention_layernorm->forward(self_attn.forward(x, in, cache));
      ops::add_(h, x);
      Tensor out = post_feedforward_layernorm->forward(mlp->forward(h));
      ops::add_(out, h);
      return out;
    }
    case NormPlacement::Parallel: {
      Tensor n = input_layernorm->forward(x);
      Tensor out = self_attn.forward(n, in, cache);
      ops::add_(out, mlp->forward(n));
      ops::add_(out, x);
      return out;
    }
  }
  return {};
}

DecoderModel::DecoderModel(const DecoderConfig& c)
    : embed_tokens(c.vocab_size, c.hidden_size), norm(c.hidden_size, decoder_norm_config(c)), config_(c) {
  TCPP_CHECK(c.attention.size() == static_cast<size_t>(c.num_layers) && c.rope.size() == c.attention.size(),
             ConfigError, "decoder: per-layer settings do not match num_hidden_layers");
  register_module("embed_tokens", &embed_tokens);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    layers.push_back(std::make_unique<DecoderLayer>(c, static_cast<size_t>(i)));
    register_module("layers." + std::to_string(i), layers.back().get());
  }
  register_module(c.final_norm_name, &norm);
  // Layers with identical rotary parameters and head size share one table.
  for (int64_t i = 0; i < c.num_layers; ++i) {
    size_t found = rotary_.size();
    for (size_t j = 0; j < static_cast<size_t>(i); ++j)
      if (c.rope[j].raw == c.rope[i].raw && c.attention[j].head_dim == c.attention[i].head_dim) {
        found = rotary_of_layer_[j];
        break;
      }
    if (found == rotary_.size())
      rotary_.push_back(std::make_unique<RotaryEmbedding>(c.rope[i], c.attention[i].head_dim, c.max_position_embeddings));
    rotary_of_layer_.push_back(found);
  }
}

std::vector<std::optional<int64_t>> DecoderModel::layer_windows() const {
  std::vector<std::optional<int64_t>> out;
  for (const auto& a : config_.attention) out.push_back(a.sliding_window);
  return out;
}

DecoderOutput DecoderModel::forward(const Tensor& input_ids, const DecoderForwardOptions& o) const {
  TCPP_CHECK(input_ids.dim() == 2, ShapeError, "forward: input_ids must be [batch, length], got ", input_ids.describe());
  const int64_t B = input_ids.size(0), L = input_ids.size(1);
  const int64_t past = o.cache ? o.cache->seq_length() : 0;
  if (o.cache)
    TCPP_CHECK(o.cache->num_layers() == layers.size(), ValueError, "forward: cache has ", o.cache->num_layers(),
               " layers, the model ", layers.size());
  if (o.ragged)
    TCPP_CHECK(!o.cache && !o.position_ids && !o.attention_mask && B == 1 && o.ragged->position_ids.defined() &&
                   o.ragged->position_ids.size(1) == L,
               ValueError, "forward: a ragged batch of ", o.ragged->position_ids.describe(),
               " positions takes its own [1, T] input_ids, got ", input_ids.describe(),
               ", and no cache, position_ids or attention_mask");
  const Tensor positions = o.ragged         ? o.ragged->position_ids
                           : o.position_ids ? *o.position_ids
                                            : ops::position_ids(B, L, past);
  std::vector<std::pair<Tensor, Tensor>> tables;
  for (const auto& r : rotary_) tables.push_back(r->cos_sin(positions));

  DecoderOutput out;
  Tensor h = embed_tokens.forward(input_ids);
  if (config_.embedding_scale > 0) {
    // Transformers multiplies by the scale as a tensor of the activation dtype (bf16 in a bf16
    // model): sqrt(3072) becomes 55.5 there, not 55.43.
    Tensor s = Tensor::from_values(std::vector<float>{static_cast<float>(config_.embedding_scale)}, {1});
    const DType et = embed_tokens.weight.dtype();
    if (et != DType::F32 && is_floating(et)) s = ops::cast(ops::cast(s, et), DType::F32);
    ops::scale_(h, ops::to_float_vector(s)[0]);
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    if (o.output_hidden_states) out.hidden_states.push_back(h);
    AttentionInputs in;
    in.cos = &tables[rotary_of_layer_[i]].first;
    in.sin = &tables[rotary_of_layer_[i]].second;
    in.query_position = past;
    in.key_padding_mask = o.attention_mask;
    if (o.output_attentions) in.attentions = &out.attentions;
    RaggedLayer ragged;
    if (o.ragged) {
      ragged = o.ragged->layer(i);
      in.ragged = &ragged;
    }
    h = layers[i]->forward(h, in, o.cache ? &o.cache->layer(i) : nullptr);
  }
  out.last_hidden_state = norm.forward(h);
  if (o.output_hidden_states) out.hidden_states.push_back(out.last_hidden_state);
  if (o.cache) o.cache->advance(L);
  return out;
}

}  // namespace transformers::nn
