#include "transformers/nn/decoder.h"

namespace transformers::nn {

DecoderLayer::DecoderLayer(const DecoderConfig& c, size_t i)
    : input_layernorm(c.hidden_size, c.norm_eps),
      self_attn(c.attention.at(i)),
      post_attention_layernorm(c.hidden_size, c.norm_eps),
      mlp(c.make_mlp ? c.make_mlp(c, i)
                     : std::make_unique<GatedMLP>(c.hidden_size, c.intermediate_size, c.activation, c.mlp_bias)) {
  register_module("input_layernorm", &input_layernorm);
  register_module("self_attn", &self_attn);
  register_module("post_attention_layernorm", &post_attention_layernorm);
  register_module("mlp", mlp.get());
}

Tensor DecoderLayer::forward(const Tensor& x, const AttentionInputs& in, CacheLayer* cache) const {
  Tensor h = self_attn.forward(input_layernorm.forward(x), in, cache);
  ops::add_(h, x);
  Tensor out = mlp->forward(post_attention_layernorm.forward(h));
  ops::add_(out, h);
  return out;
}

DecoderModel::DecoderModel(const DecoderConfig& c)
    : embed_tokens(c.vocab_size, c.hidden_size), norm(c.hidden_size, c.norm_eps), config_(c) {
  TCPP_CHECK(c.attention.size() == static_cast<size_t>(c.num_layers) && c.rope.size() == c.attention.size(),
             ConfigError, "decoder: per-layer settings do not match num_hidden_layers");
  register_module("embed_tokens", &embed_tokens);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    layers.push_back(std::make_unique<DecoderLayer>(c, static_cast<size_t>(i)));
    register_module("layers." + std::to_string(i), layers.back().get());
  }
  register_module("norm", &norm);
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
  Tensor positions;
  if (o.position_ids) {
    positions = *o.position_ids;
  } else {
    positions = Tensor::empty({B, L}, DType::I64);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < L; ++l) positions.data<int64_t>()[b * L + l] = past + l;
  }
  std::vector<std::pair<Tensor, Tensor>> tables;
  for (const auto& r : rotary_) tables.push_back(r->cos_sin(positions));

  DecoderOutput out;
  Tensor h = embed_tokens.forward(input_ids);
  for (size_t i = 0; i < layers.size(); ++i) {
    if (o.output_hidden_states) out.hidden_states.push_back(h);
    AttentionInputs in;
    in.cos = &tables[rotary_of_layer_[i]].first;
    in.sin = &tables[rotary_of_layer_[i]].second;
    in.query_position = past;
    in.key_padding_mask = o.attention_mask;
    h = layers[i]->forward(h, in, o.cache ? &o.cache->layer(i) : nullptr);
  }
  out.last_hidden_state = norm.forward(h);
  if (o.output_hidden_states) out.hidden_states.push_back(out.last_hidden_state);
  if (o.cache) o.cache->advance(L);
  return out;
}

}  // namespace transformers::nn
