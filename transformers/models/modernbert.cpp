// ModernBERT (ModernBertModel, ModernBertForMaskedLM, ModernBertForSequenceClassification): a
// pre-norm encoder with rotary positions and no position embeddings. Embeddings are
// LayerNorm(tok_embeddings); layer i is h = x + attn(attn_norm(x)) (layer 0 has no attn_norm),
// out = h + Wo(act(a) * g) with [a; g] = Wi(mlp_norm(h)). Every global_attn_every_n_layers-th
// layer attends globally with the global rope theta; the others attend within
// |query - key| <= local_attention / 2 with the local theta. q/k/v are one projection (Wqkv).
// LayerNorms have no bias by default (norm_bias). hidden_states end with the last layer's output
// before final_norm, as Transformers returns them.
#include <cmath>

#include "transformers/models/causal_lm.h"
#include "transformers/models/encoder.h"
#include "transformers/nn/attention.h"
#include "transformers/nn/rotary.h"

namespace transformers {

namespace {

struct ModernBertConfig {
  int64_t vocab_size, hidden, layers, heads, intermediate, max_positions, num_labels, local_attention, global_every;
  double eps;
  bool norm_bias, attention_bias, mlp_bias, classifier_bias, decoder_bias, mean_pooling;
  ops::Activation act, classifier_act;
  std::vector<bool> local;  // per layer
  RopeParameters global_rope, local_rope;
};

ModernBertConfig read_config(const PretrainedConfig& c) {
  ModernBertConfig m;
  const std::string w = c.where();
  m.vocab_size = c.get<int64_t>("vocab_size");
  m.hidden = c.get<int64_t>("hidden_size");
  m.layers = c.get<int64_t>("num_hidden_layers");
  m.heads = c.get<int64_t>("num_attention_heads");
  m.intermediate = c.get<int64_t>("intermediate_size");
  m.max_positions = c.get_or<int64_t>("max_position_embeddings", 8192);
  m.num_labels = c.raw.contains("id2label") && c.raw["id2label"].is_object() ? static_cast<int64_t>(c.raw["id2label"].size())
                                                                               : c.get_or<int64_t>("num_labels", 2);
  m.local_attention = c.get_or<int64_t>("local_attention", 128);
  m.global_every = c.get_or<int64_t>("global_attn_every_n_layers", 3);
  m.eps = c.get_or<double>("norm_eps", 1e-5);
  m.norm_bias = c.get_or<bool>("norm_bias", false);
  m.attention_bias = c.get_or<bool>("attention_bias", false);
  m.mlp_bias = c.get_or<bool>("mlp_bias", false);
  m.classifier_bias = c.get_or<bool>("classifier_bias", false);
  m.decoder_bias = c.get_or<bool>("decoder_bias", true);
  const std::string pooling = c.get_or<std::string>("classifier_pooling", "cls");
  TCPP_CHECK(pooling == "cls" || pooling == "mean", ConfigError, w, ": classifier_pooling '", pooling,
             "' (expected cls or mean)");
  m.mean_pooling = pooling == "mean";
  m.act = ops::activation_from_name(c.get_or<std::string>("hidden_activation", "gelu"), w + ": hidden_activation");
  m.classifier_act =
      ops::activation_from_name(c.get_or<std::string>("classifier_activation", "gelu"), w + ": classifier_activation");
  TCPP_CHECK(m.heads > 0 && m.hidden % m.heads == 0 && m.global_every > 0, ConfigError, w, ": hidden_size (", m.hidden,
             ") must be a multiple of num_attention_heads (", m.heads, "), global_attn_every_n_layers positive");
  for (int64_t i = 0; i < m.layers; ++i) m.local.push_back(i % m.global_every != 0);
  if (!c.rope_parameters_by_layer_type.empty()) {
    m.global_rope = c.rope_for_layer_type("full_attention");
    m.local_rope = c.rope_for_layer_type("sliding_attention");
  } else {
    // v4 keys: global_rope_theta / local_rope_theta; a rope_scaling applies to both.
    m.global_rope = m.local_rope = c.rope_parameters;
    m.global_rope.rope_theta = c.get_or<double>("global_rope_theta", 160000.0);
    m.local_rope.rope_theta = c.get_or<double>("local_rope_theta", 10000.0);
    m.global_rope.raw["rope_theta"] = m.global_rope.rope_theta;
    m.local_rope.raw["rope_theta"] = m.local_rope.rope_theta;
  }
  return m;
}

nn::AttentionConfig attention_config(const ModernBertConfig& m, bool local) {
  nn::AttentionConfig a;
  a.hidden_size = m.hidden;
  a.num_heads = a.num_kv_heads = m.heads;
  a.head_dim = m.hidden / m.heads;
  a.qkv_bias = a.o_bias = m.attention_bias;
  a.fused_qkv = true;
  a.causal = false;
  a.names.qkv = "Wqkv";
  a.names.o = "Wo";
  // |q - k| <= local_attention / 2, i.e. |q - k| < local_attention / 2 + 1.
  if (local) a.sliding_window = m.local_attention / 2 + 1;
  return a;
}

class ModernBertLayer : public nn::Module {
 public:
  ModernBertLayer(const ModernBertConfig& m, int64_t index)
      : attn(attention_config(m, m.local[static_cast<size_t>(index)])), mlp_norm(m.hidden, m.eps, m.norm_bias),
        Wi(m.hidden, 2 * m.intermediate, m.mlp_bias), Wo(m.intermediate, m.hidden, m.mlp_bias), act_(m.act) {
    if (index > 0) {
      attn_norm = std::make_unique<nn::LayerNorm>(m.hidden, m.eps, m.norm_bias);
      register_module("attn_norm", attn_norm.get());
    }
    register_module("attn", &attn);
    register_module("mlp_norm", &mlp_norm);
    register_module("mlp.Wi", &Wi);
    register_module("mlp.Wo", &Wo);
  }
  Tensor forward(const Tensor& x, const nn::AttentionInputs& in) const {
    Tensor h = attn.forward(attn_norm ? attn_norm->forward(x) : x, in, nullptr);
    ops::add_(h, x);
    Tensor wi = Wi.forward(mlp_norm.forward(h));
    const int64_t I = Wo.in_features(), last = wi.dim() - 1;
    Tensor out = Wo.forward(ops::gated_activation(wi.slice(last, 0, I).contiguous(), wi.slice(last, I, 2 * I).contiguous(), act_));
    ops::add_(out, h);
    return out;
  }
  std::unique_ptr<nn::LayerNorm> attn_norm;
  nn::Attention attn;
  nn::LayerNorm mlp_norm;
  nn::Linear Wi, Wo;

 private:
  ops::Activation act_;
};

class ModernBert : public EncoderModel {
 public:
  ModernBert(const PretrainedConfig& c, const ModernBertConfig& m, EncoderHead head)
      : EncoderModel(c, head), m_(m), tok_embeddings(m.vocab_size, m.hidden), embedding_norm(m.hidden, m.eps, m.norm_bias),
        final_norm(m.hidden, m.eps, m.norm_bias), head_dense(m.hidden, m.hidden, m.classifier_bias),
        head_norm(m.hidden, m.eps, m.norm_bias), decoder(m.hidden, m.vocab_size, m.decoder_bias),
        classifier(m.hidden, m.num_labels, true),
        global_rope_(m.global_rope, m.hidden / m.heads, m.max_positions),
        local_rope_(m.local_rope, m.hidden / m.heads, m.max_positions) {
    const std::string p = head == EncoderHead::None ? "" : "model.";
    register_module(p + "embeddings.tok_embeddings", &tok_embeddings);
    register_module(p + "embeddings.norm", &embedding_norm);
    for (int64_t i = 0; i < m.layers; ++i) {
      layers.push_back(std::make_unique<ModernBertLayer>(m, i));
      register_module(p + "layers." + std::to_string(i), layers.back().get());
    }
    register_module(p + "final_norm", &final_norm);
    if (head != EncoderHead::None) {
      register_module("head.dense", &head_dense);
      register_module("head.norm", &head_norm);
    }
    if (head == EncoderHead::MaskedLM) register_module("decoder", &decoder);
    if (head == EncoderHead::SequenceClassification) register_module("classifier", &classifier);
  }

  std::string base_model_prefix() const override { return "model"; }

  std::vector<std::pair<std::string, std::string>> tied_weights() const override {
    if (head() == EncoderHead::MaskedLM && config().get_or<bool>("tie_word_embeddings", true))
      return {{"decoder.weight", "model.embeddings.tok_embeddings.weight"}};
    return {};
  }

  EncoderOutput forward(const Tensor& ids, const EncoderForwardOptions& o) const override {
    TCPP_CHECK(ids.dim() == 2, ShapeError, "forward: input_ids must be [batch, length], got ", ids.describe());
    const int64_t B = ids.size(0), L = ids.size(1);
    for (const Tensor* t : {o.attention_mask, o.position_ids})
      if (t)
        TCPP_CHECK(t->dim() == 2 && t->size(0) == B && t->size(1) == L, ShapeError, "forward: ", t->describe(),
                   " must have the shape of input_ids ", ids.describe());
    const Tensor positions = o.position_ids ? *o.position_ids : default_position_ids(B, L, 0);
    Tensor mask;
    if (o.attention_mask) mask = o.attention_mask->contiguous();
    auto [gcos, gsin] = global_rope_.cos_sin(positions);
    auto [lcos, lsin] = local_rope_.cos_sin(positions);
    EncoderOutput out;
    Tensor x = embedding_norm.forward(tok_embeddings.forward(ids));
    for (size_t i = 0; i < layers.size(); ++i) {
      if (o.output_hidden_states) out.hidden_states.push_back(x);
      nn::AttentionInputs in;
      in.cos = m_.local[i] ? &lcos : &gcos;
      in.sin = m_.local[i] ? &lsin : &gsin;
      in.key_padding_mask = mask.defined() ? &mask : nullptr;
      x = layers[i]->forward(x, in);
    }
    if (o.output_hidden_states) out.hidden_states.push_back(x);
    out.last_hidden_state = final_norm.forward(x);
    if (head() == EncoderHead::MaskedLM) out.logits = decoder.forward(prediction_head(out.last_hidden_state));
    if (head() == EncoderHead::SequenceClassification)
      out.logits = classifier.forward(prediction_head(pool(out.last_hidden_state, mask)));
    return out;
  }

  std::vector<std::unique_ptr<ModernBertLayer>> layers;

 private:
  // dense -> act -> norm (ModernBertPredictionHead).
  Tensor prediction_head(const Tensor& h) const {
    Tensor t = head_dense.forward(h);
    ops::activation_(t, m_.classifier_act);
    return head_norm.forward(t);
  }
  // classifier_pooling: the first token, or the mean over real tokens.
  Tensor pool(const Tensor& h, const Tensor& mask) const {
    const int64_t B = h.size(0), L = h.size(1), H = h.size(2);
    if (!m_.mean_pooling) return h.select(1, 0).contiguous();
    const std::vector<int64_t> real = mask.defined() ? ops::to_int64_vector(mask) : std::vector<int64_t>(B * L, 1);
    TCPP_CHECK(static_cast<int64_t>(real.size()) == B * L, ShapeError, "modernbert: attention_mask ",
               mask.describe(), " for hidden states ", h.describe());
    // Sum the real tokens of each row (in order), then divide by their count.
    std::vector<int64_t> tokens, row_of_token;
    std::vector<float> count(static_cast<size_t>(B), 0.0f);
    for (int64_t t = 0; t < B * L; ++t)
      if (real[static_cast<size_t>(t)] != 0) {
        tokens.push_back(t);
        row_of_token.push_back(t / L);
        count[static_cast<size_t>(t / L)] += 1;
      }
    Tensor out = Tensor::zeros({B, H}, DType::F32);
    if (!tokens.empty()) {
      const int64_t n = static_cast<int64_t>(tokens.size());
      ops::index_add_(out, Tensor::from_values(row_of_token, {n}),
                      ops::index_select(h.contiguous().view({B * L, H}), Tensor::from_values(tokens, {n})));
    }
    ops::div_(out, Tensor::from_values(count, {B, 1}));
    return out;
  }

  ModernBertConfig m_;
  nn::Embedding tok_embeddings;
  nn::LayerNorm embedding_norm, final_norm;
  nn::Linear head_dense;
  nn::LayerNorm head_norm;
  nn::Linear decoder, classifier;
  nn::RotaryEmbedding global_rope_, local_rope_;
};

}  // namespace

std::unique_ptr<EncoderModel> make_modernbert(const PretrainedConfig& c, EncoderHead head) {
  return std::make_unique<ModernBert>(c, read_config(c), head);
}

}  // namespace transformers
