// BERT (BertModel, BertForMaskedLM, BertForSequenceClassification): a post-norm encoder.
// Embeddings = LayerNorm(word + position (learned, absolute) + token type); each layer is
// h = LayerNorm(x + attn(x)), out = LayerNorm(h + down(gelu(up(h)))), with bidirectional
// attention masked only by padding. v5 removed relative position embeddings and head masking, so
// position_embedding_type other than "absolute" is refused. The MLM head is
// dense -> act -> LayerNorm -> decoder tied to the word embeddings (+ cls.predictions.bias); the
// pooler is tanh(dense(first token)); the classifier reads the pooled output.
// RoBERTa / XLM-RoBERTa are the same encoder under "roberta." with positions counted from
// pad_token_id + 1 over non-padding tokens, an lm_head (dense -> gelu -> layer_norm -> decoder)
// and a classifier head of its own (dense -> tanh -> out_proj on the first token, no pooler).
#include <cmath>

#include "transformers/models/causal_lm.h"
#include "transformers/models/encoder.h"
#include "transformers/nn/attention.h"

namespace transformers {

namespace {

struct BertConfig {
  bool roberta = false;
  int64_t padding_idx = 0;  // RoBERTa positions start after it
  int64_t vocab_size, hidden, layers, heads, intermediate, max_positions, type_vocab_size, num_labels;
  double eps;
  ops::Activation act;
};

BertConfig read_bert_config(const PretrainedConfig& c) {
  BertConfig b;
  b.roberta = c.model_type == "roberta" || c.model_type == "xlm-roberta";
  b.padding_idx = c.pad_token_id.value_or(b.roberta ? 1 : 0);
  b.vocab_size = c.get<int64_t>("vocab_size");
  b.hidden = c.get<int64_t>("hidden_size");
  b.layers = c.get<int64_t>("num_hidden_layers");
  b.heads = c.get<int64_t>("num_attention_heads");
  b.intermediate = c.get<int64_t>("intermediate_size");
  b.max_positions = c.get_or<int64_t>("max_position_embeddings", 512);
  b.type_vocab_size = c.get_or<int64_t>("type_vocab_size", 2);
  b.eps = c.get_or<double>("layer_norm_eps", 1e-12);
  b.act = ops::activation_from_name(c.get_or<std::string>("hidden_act", "gelu"), c.where() + ": hidden_act");
  b.num_labels = c.raw.contains("id2label") && c.raw["id2label"].is_object()
                     ? static_cast<int64_t>(c.raw["id2label"].size())
                     : c.get_or<int64_t>("num_labels", 2);
  const std::string pos = c.get_or<std::string>("position_embedding_type", "absolute");
  TCPP_CHECK(pos == "absolute", ConfigError, c.where(), ": position_embedding_type '", pos,
             "' is not supported (Transformers v5 removed relative position embeddings)");
  TCPP_CHECK(b.heads > 0 && b.hidden % b.heads == 0, ConfigError, c.where(), ": hidden_size (", b.hidden,
             ") must be a multiple of num_attention_heads (", b.heads, ")");
  return b;
}

nn::AttentionConfig bert_attention(const BertConfig& b) {
  nn::AttentionConfig a;
  a.hidden_size = b.hidden;
  a.num_heads = a.num_kv_heads = b.heads;
  a.head_dim = b.hidden / b.heads;
  a.qkv_bias = a.o_bias = true;
  a.causal = false;
  a.names.q = "self.query";
  a.names.k = "self.key";
  a.names.v = "self.value";
  a.names.o = "output.dense";
  return a;
}

class BertEmbeddings : public nn::Module {
 public:
  explicit BertEmbeddings(const BertConfig& b)
      : word_embeddings(b.vocab_size, b.hidden), position_embeddings(b.max_positions, b.hidden),
        token_type_embeddings(b.type_vocab_size, b.hidden), LayerNorm(b.hidden, b.eps) {
    register_module("word_embeddings", &word_embeddings);
    register_module("position_embeddings", &position_embeddings);
    register_module("token_type_embeddings", &token_type_embeddings);
    register_module("LayerNorm", &LayerNorm);
  }
  Tensor forward(const Tensor& ids, const Tensor& token_types, const Tensor& positions) const {
    Tensor x = word_embeddings.forward(ids);
    ops::add_(x, token_type_embeddings.forward(token_types));
    ops::add_(x, position_embeddings.forward(positions));
    return LayerNorm.forward(x);
  }
  nn::Embedding word_embeddings, position_embeddings, token_type_embeddings;
  nn::LayerNorm LayerNorm;
};

class BertLayer : public nn::Module {
 public:
  explicit BertLayer(const BertConfig& b)
      : attention(bert_attention(b)), attention_norm(b.hidden, b.eps), intermediate(b.hidden, b.intermediate, true),
        output(b.intermediate, b.hidden, true), output_norm(b.hidden, b.eps), act_(b.act) {
    register_module("attention", &attention);
    register_module("attention.output.LayerNorm", &attention_norm);
    register_module("intermediate.dense", &intermediate);
    register_module("output.dense", &output);
    register_module("output.LayerNorm", &output_norm);
  }
  Tensor forward(const Tensor& x, const nn::AttentionInputs& in) const {
    Tensor h = attention.forward(x, in, nullptr);
    ops::add_(h, x);
    h = attention_norm.forward(h);
    Tensor u = intermediate.forward(h);
    ops::activation_(u, act_);
    Tensor out = output.forward(u);
    ops::add_(out, h);
    return output_norm.forward(out);
  }
  nn::Attention attention;
  nn::LayerNorm attention_norm;
  nn::Linear intermediate, output;
  nn::LayerNorm output_norm;

 private:
  ops::Activation act_;
};

class BertModule : public nn::Module {
 public:
  // Registered by the owner, under "bert." or at the top level.
  explicit BertModule(const BertConfig& b) : embeddings(b), pooler(b.hidden, b.hidden, true) {
    for (int64_t i = 0; i < b.layers; ++i) layers.push_back(std::make_unique<BertLayer>(b));
  }
  BertEmbeddings embeddings;
  std::vector<std::unique_ptr<BertLayer>> layers;
  nn::Linear pooler;  // registered only where the model has one
};

// The MLM head: cls.predictions.{transform.dense, transform.LayerNorm, decoder, bias}.
class BertLMHead : public nn::Module {
 public:
  explicit BertLMHead(const BertConfig& b)
      : dense(b.hidden, b.hidden, true), norm(b.hidden, b.eps), decoder(b.hidden, b.vocab_size, false),
        act_(b.roberta ? ops::Activation::GELU : b.act) {  // RobertaLMHead applies gelu whatever hidden_act
    const std::string p = b.roberta ? "" : "predictions.";
    register_module(p + (b.roberta ? "dense" : "transform.dense"), &dense);
    register_module(p + (b.roberta ? "layer_norm" : "transform.LayerNorm"), &norm);
    register_module(p + "decoder", &decoder);
    register_parameter(p + "bias", &bias, {b.vocab_size}, nn::ParamRole::Vector);
  }
  Tensor forward(const Tensor& h) const {
    Tensor t = dense.forward(h);
    ops::activation_(t, act_);
    return ops::linear(norm.forward(t), decoder.weight, &bias);
  }
  nn::Linear dense;
  nn::LayerNorm norm;
  nn::Linear decoder;
  Tensor bias;

 private:
  ops::Activation act_;
};

class Bert : public EncoderModel {
 public:
  Bert(const PretrainedConfig& c, const BertConfig& b, EncoderHead head)
      : EncoderModel(c, head), b_(b), bert(b), classifier(b.hidden, b.num_labels, true),
        classifier_dense(b.hidden, b.hidden, true) {
    // BertModel keeps its parameters at the top level; the heads put them under "bert.".
    const std::string prefix = head == EncoderHead::None ? "" : base_model_prefix() + ".";
    register_all(prefix);
    if (b.roberta && head == EncoderHead::SequenceClassification) {
      register_module("classifier.dense", &classifier_dense);
      register_module("classifier.out_proj", &classifier);
    } else if (head != EncoderHead::MaskedLM) {
      // A checkpoint saved from BertForMaskedLM has no pooler; Transformers would initialise it
      // at random, here pooler_output is left undefined instead.
      if (head == EncoderHead::None) bert.pooler.mark_optional();
      register_module(prefix + "pooler.dense", &bert.pooler);
    }
    if (head == EncoderHead::MaskedLM) {
      cls = std::make_unique<BertLMHead>(b);
      register_module(b.roberta ? "lm_head" : "cls", cls.get());
    }
    if (head == EncoderHead::SequenceClassification && !b.roberta) register_module("classifier", &classifier);
  }

  std::string base_model_prefix() const override { return b_.roberta ? "roberta" : "bert"; }

  std::vector<std::pair<std::string, std::string>> tied_weights() const override {
    if (head() == EncoderHead::MaskedLM && config().get_or<bool>("tie_word_embeddings", true))
      return {{b_.roberta ? "lm_head.decoder.weight" : "cls.predictions.decoder.weight",
               base_model_prefix() + ".embeddings.word_embeddings.weight"}};
    return {};
  }

  EncoderOutput forward(const Tensor& ids, const EncoderForwardOptions& o) const override {
    TCPP_CHECK(ids.dim() == 2, ShapeError, "forward: input_ids must be [batch, length], got ", ids.describe());
    const int64_t B = ids.size(0), L = ids.size(1);
    auto check_like_ids = [&](const Tensor* t, const char* what) {
      if (t)
        TCPP_CHECK(t->dim() == 2 && t->size(0) == B && t->size(1) == L, ShapeError, "forward: ", what, " ",
                   t->describe(), " must have the shape of input_ids ", ids.describe());
    };
    check_like_ids(o.attention_mask, "attention_mask");
    check_like_ids(o.token_type_ids, "token_type_ids");
    check_like_ids(o.position_ids, "position_ids");
    const Tensor types = o.token_type_ids ? *o.token_type_ids : Tensor::zeros({B, L}, DType::I64);
    const Tensor positions = o.position_ids ? *o.position_ids : b_.roberta ? roberta_position_ids(ids) : default_position_ids(B, L, 0);
    check_learned_positions(positions, bert.embeddings.position_embeddings.weight.size(0),
                            b_.roberta ? "roberta (max_position_embeddings)" : "bert (max_position_embeddings)");
    Tensor mask;
    if (o.attention_mask) mask = o.attention_mask->contiguous();
    EncoderOutput out;
    Tensor x = bert.embeddings.forward(ids, types, positions);
    nn::AttentionInputs in;
    in.key_padding_mask = mask.defined() ? &mask : nullptr;
    for (const auto& layer : bert.layers) {
      if (o.output_hidden_states) out.hidden_states.push_back(x);
      x = layer->forward(x, in);
    }
    if (o.output_hidden_states) out.hidden_states.push_back(x);
    out.last_hidden_state = x;
    if (head() != EncoderHead::MaskedLM && bert.pooler.weight.defined()) out.pooler_output = pool(x);
    if (head() == EncoderHead::MaskedLM) out.logits = cls->forward(x);
    if (head() == EncoderHead::SequenceClassification) {
      if (b_.roberta) {
        Tensor t = classifier_dense.forward(x.select(1, 0).contiguous());
        ops::tanh_(t);
        out.logits = classifier.forward(t);
      } else {
        out.logits = classifier.forward(out.pooler_output);
      }
    }
    return out;
  }

  BertConfig b_;
  BertModule bert;
  std::unique_ptr<BertLMHead> cls;
  nn::Linear classifier;        // BERT: classifier; RoBERTa: classifier.out_proj
  nn::Linear classifier_dense;  // RoBERTa: classifier.dense

 private:
  // padding_idx + 1, + 2, ... over real tokens; padding tokens get padding_idx (Transformers'
  // create_position_ids_from_input_ids).
  Tensor roberta_position_ids(const Tensor& ids) const {
    const int64_t B = ids.size(0), L = ids.size(1);
    std::vector<int64_t> pos = ops::to_int64_vector(ids);  // the ids, overwritten by their positions
    for (int64_t b = 0; b < B; ++b) {
      int64_t count = 0;
      for (int64_t l = 0; l < L; ++l) {
        int64_t& p = pos[static_cast<size_t>(b * L + l)];
        const bool real = p != b_.padding_idx;
        count += real;
        p = real ? count + b_.padding_idx : b_.padding_idx;
      }
    }
    return Tensor::from_values(pos, {B, L});
  }
  void register_all(const std::string& prefix) {
    register_module(prefix + "embeddings", &bert.embeddings);
    for (size_t i = 0; i < bert.layers.size(); ++i)
      register_module(prefix + "encoder.layer." + std::to_string(i), bert.layers[i].get());
  }
  // tanh(dense(hidden state of the first token)).
  Tensor pool(const Tensor& x) const {
    Tensor first = x.select(1, 0).contiguous();
    Tensor p = bert.pooler.forward(first);
    ops::tanh_(p);
    return p;
  }
};

}  // namespace

std::unique_ptr<EncoderModel> make_bert(const PretrainedConfig& c, EncoderHead head) {
  return std::make_unique<Bert>(c, read_bert_config(c), head);
}

}  // namespace transformers
