// GPT-2 (GPT2LMHeadModel): learned absolute positions (wpe) added to the token embeddings (wte),
// pre-LayerNorm blocks (ln_1, attn, ln_2, mlp), a final ln_f and an LM head tied to wte. q/k/v
// are one projection (c_attn) and every projection is a Conv1D, stored [in, out] in checkpoints:
// the Linear slots say so and loading transposes them (nn/module.h, stored_transposed).
// The MLP is c_fc -> gelu_new (the tanh GELU) -> c_proj. Config keys are GPT-2's own (n_embd,
// n_layer, n_head, n_inner, n_positions, layer_norm_epsilon, activation_function).
#include "transformers/models/model_files.h"

#include <cmath>

namespace transformers {

namespace {

struct GPT2Config {
  int64_t vocab_size, n_embd, n_layer, n_head, n_inner, n_positions;
  double eps;
  ops::Activation act;
  bool scale_by_inverse_layer_idx;
};

GPT2Config read_gpt2_config(const PretrainedConfig& c) {
  GPT2Config g;
  g.vocab_size = c.get<int64_t>("vocab_size");
  g.n_embd = c.get<int64_t>("n_embd");
  g.n_layer = c.get<int64_t>("n_layer");
  g.n_head = c.get<int64_t>("n_head");
  g.n_inner = c.get_or<int64_t>("n_inner", 4 * g.n_embd);  // null in most configs: 4 x n_embd
  if (c.raw.contains("n_inner") && c.raw["n_inner"].is_null()) g.n_inner = 4 * g.n_embd;
  g.n_positions = c.get_or<int64_t>("n_positions", 1024);
  g.eps = c.get_or<double>("layer_norm_epsilon", 1e-5);
  g.act = ops::activation_from_name(c.get_or<std::string>("activation_function", "gelu_new"),
                                    c.where() + ": activation_function");
  g.scale_by_inverse_layer_idx = c.get_or<bool>("scale_attn_by_inverse_layer_idx", false);
  TCPP_CHECK(g.n_head > 0 && g.n_embd % g.n_head == 0, ConfigError, c.where(), ": n_embd (", g.n_embd,
             ") must be a multiple of n_head (", g.n_head, ")");
  return g;
}

nn::AttentionConfig gpt2_attention(const GPT2Config& g, int64_t layer) {
  nn::AttentionConfig a;
  a.hidden_size = g.n_embd;
  a.num_heads = a.num_kv_heads = g.n_head;
  a.head_dim = g.n_embd / g.n_head;
  a.qkv_bias = a.o_bias = true;
  a.fused_qkv = true;
  a.names.qkv = "c_attn";
  a.names.o = "c_proj";
  a.scaling = 1.0 / std::sqrt(static_cast<double>(a.head_dim));
  if (g.scale_by_inverse_layer_idx) a.scaling /= static_cast<double>(layer + 1);
  return a;
}

// Every projection of a block is a Conv1D: a Linear whose weight is stored [in, out].
class GPT2MLP : public nn::FeedForward {
 public:
  GPT2MLP(const GPT2Config& g) : c_fc(g.n_embd, g.n_inner, true, true), c_proj(g.n_inner, g.n_embd, true, true), act_(g.act) {
    register_module("c_fc", &c_fc);
    register_module("c_proj", &c_proj);
  }
  Tensor forward(const Tensor& x) const override {
    Tensor h = c_fc.forward(x);
    ops::activation_(h, act_);
    return c_proj.forward(h);
  }
  nn::Linear c_fc, c_proj;

 private:
  ops::Activation act_;
};

class GPT2Block : public nn::Module {
 public:
  GPT2Block(const GPT2Config& g, int64_t layer)
      : ln_1(g.n_embd, g.eps), attn(gpt2_attention(g, layer)), ln_2(g.n_embd, g.eps), mlp(g) {
    // Conv1D layout for the attention projections too.
    for (nn::Linear* l : {attn.qkv_proj.get(), &attn.o_proj}) l->mark_stored_transposed();
    register_module("ln_1", &ln_1);
    register_module("attn", &attn);
    register_module("ln_2", &ln_2);
    register_module("mlp", &mlp);
  }
  Tensor forward(const Tensor& x, const nn::AttentionInputs& in, CacheLayer* cache) const {
    Tensor h = attn.forward(ln_1.forward(x), in, cache);
    ops::add_(h, x);
    Tensor out = mlp.forward(ln_2.forward(h));
    ops::add_(out, h);
    return out;
  }
  nn::LayerNorm ln_1;
  nn::Attention attn;
  nn::LayerNorm ln_2;
  GPT2MLP mlp;
};

class GPT2Model : public nn::Module {
 public:
  explicit GPT2Model(const GPT2Config& g) : wte(g.vocab_size, g.n_embd), wpe(g.n_positions, g.n_embd), ln_f(g.n_embd, g.eps) {
    register_module("wte", &wte);
    register_module("wpe", &wpe);
    for (int64_t i = 0; i < g.n_layer; ++i) {
      h.push_back(std::make_unique<GPT2Block>(g, i));
      register_module("h." + std::to_string(i), h.back().get());
    }
    register_module("ln_f", &ln_f);
  }
  nn::Embedding wte, wpe;
  std::vector<std::unique_ptr<GPT2Block>> h;
  nn::LayerNorm ln_f;
};

class GPT2LMHeadModel : public CausalLM {
 public:
  GPT2LMHeadModel(const PretrainedConfig& c, const GPT2Config& g)
      : CausalLM(c), transformer(g), lm_head(g.n_embd, g.vocab_size, false) {
    register_module("transformer", &transformer);
    register_module("lm_head", &lm_head);
  }

  CausalLMOutput forward(const Tensor& input_ids, const ForwardOptions& o) const override {
    TCPP_CHECK(input_ids.dim() == 2, ShapeError, "forward: input_ids must be [batch, length], got ", input_ids.describe());
    const int64_t B = input_ids.size(0), L = input_ids.size(1);
    const int64_t past = o.cache ? o.cache->seq_length() : 0;
    if (o.ragged)
      TCPP_CHECK(!o.cache && !o.position_ids && !o.attention_mask && B == 1 && o.ragged->position_ids.size(1) == L,
                 ValueError, "forward: a ragged batch takes its own [1, T] input_ids and no cache, position_ids or mask");
    Tensor positions = o.ragged         ? o.ragged->position_ids
                       : o.position_ids ? *o.position_ids
                                        : default_position_ids(B, L, past);
    check_learned_positions(positions, transformer.wpe.weight.size(0), "gpt2 (n_positions)");
    Tensor x = transformer.wte.forward(input_ids);
    ops::add_(x, transformer.wpe.forward(positions));
    CausalLMOutput out;
    for (size_t i = 0; i < transformer.h.size(); ++i) {
      if (o.output_hidden_states) out.hidden_states.push_back(x);
      nn::AttentionInputs in;
      in.query_position = past;
      in.key_padding_mask = o.attention_mask;
      if (o.output_attentions) in.attentions = &out.attentions;
      RaggedLayer ragged;
      if (o.ragged) {
        ragged = o.ragged->layer(i);
        in.ragged = &ragged;
      }
      x = transformer.h[i]->forward(x, in, o.cache ? &o.cache->layer(i) : nullptr);
    }
    x = transformer.ln_f.forward(x);
    if (o.output_hidden_states) out.hidden_states.push_back(x);
    if (o.cache) o.cache->advance(L);
    out.logits = lm_head.forward(hidden_for_logits(x, o));
    return out;
  }

  std::unique_ptr<Cache> make_cache() const override {
    return std::make_unique<Cache>(std::vector<std::optional<int64_t>>(transformer.h.size()));
  }
  std::vector<PagedLayerSpec> kv_layout() const override {
    std::vector<nn::AttentionConfig> layers;
    for (const auto& block : transformer.h) layers.push_back(block->attn.config());
    return kv_layout_of(layers);
  }
  std::string base_model_prefix() const override { return "transformer"; }
  std::vector<std::pair<std::string, std::string>> tied_weights() const override {
    if (config().get_or<bool>("tie_word_embeddings", true)) return {{"lm_head.weight", "transformer.wte.weight"}};
    return {};
  }

  GPT2Model transformer;
  nn::Linear lm_head;
};

}  // namespace

std::unique_ptr<CausalLM> make_gpt2_for_causal_lm(const PretrainedConfig& c) {
  return std::make_unique<GPT2LMHeadModel>(c, read_gpt2_config(c));
}

}  // namespace transformers
