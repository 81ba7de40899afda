// BERT against the outputs of HF Transformers (../shared/golden/bert, BertForMaskedLM with a
// padded second sequence and token type ids): MLM logits, hidden states and the bare encoder's
// last hidden state within 1e-4; padding behaves as masking (a padded row equals the sequence
// run alone).
#include <map>

#include "common/test_util.h"
#include "transformers/io/npy.h"
#include "transformers/models/encoder.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::max_abs_diff;
using testing::shared_path;

struct BertGolden {
  std::filesystem::path dir = shared_path("golden/bert");
  Tensor ids = load_npy(dir / "input_ids.npy");
  Tensor mask = load_npy(dir / "attention_mask.npy");
  Tensor types = load_npy(dir / "token_type_ids.npy");
};

TEST(BertGolden, MaskedLMLogitsAndHiddenStatesMatchTransformers) {
  BertGolden g;
  auto model = AutoModelForMaskedLM::from_pretrained(g.dir);
  EncoderOutput out =
      model->forward(g.ids, {.attention_mask = &g.mask, .token_type_ids = &g.types, .output_hidden_states = true});
  const float d = max_abs_diff(out.logits, load_npy(g.dir / "logits.npy"));
  EXPECT_LE(d, 1e-4f);
  std::printf("bert MLM logits max |diff| %.3g\n", d);
  Tensor hs = load_npy(g.dir / "hidden_states.npy");
  ASSERT_EQ(static_cast<int64_t>(out.hidden_states.size()), hs.size(0));
  for (int64_t i = 0; i < hs.size(0); ++i)
    EXPECT_LE(max_abs_diff(out.hidden_states[i], hs.select(0, i)), 1e-4f) << "hidden state " << i;
  EXPECT_FALSE(out.pooler_output.defined());  // BertForMaskedLM has no pooler
}

TEST(BertGolden, BareEncoderLastHiddenStateMatchesTransformers) {
  BertGolden g;
  // The checkpoint's keys carry the "bert." prefix; the bare model's do not.
  auto model = AutoModel::from_pretrained(g.dir);
  EncoderOutput out = model->forward(g.ids, {.attention_mask = &g.mask, .token_type_ids = &g.types});
  EXPECT_LE(max_abs_diff(out.last_hidden_state, load_npy(g.dir / "last_hidden_state.npy")), 1e-4f);
  EXPECT_FALSE(out.logits.defined());
}

TEST(BertGolden, PaddingIsMaskingAndTokenTypesMatter) {
  BertGolden g;
  auto model = AutoModelForMaskedLM::from_pretrained(g.dir);
  Tensor full = model->forward(g.ids, {.attention_mask = &g.mask, .token_type_ids = &g.types}).logits;
  // Row 1 alone, cut to its real tokens, without any mask.
  int64_t real = 0;
  for (int64_t j = 0; j < g.mask.size(1); ++j) real += g.mask.data<int64_t>()[g.mask.size(1) + j] != 0;
  ASSERT_LT(real, g.ids.size(1)) << "the golden's second row should be padded";
  Tensor ids1 = g.ids.slice(0, 1, 2).slice(1, 0, real).contiguous();
  Tensor types1 = g.types.slice(0, 1, 2).slice(1, 0, real).contiguous();
  Tensor alone = model->forward(ids1, {.token_type_ids = &types1}).logits;
  EXPECT_LE(max_abs_diff(alone, full.slice(0, 1, 2).slice(1, 0, real)), 1e-4f);
  // Without the mask the padded row attends to its pads and differs: the mask is applied.
  Tensor unmasked = model->forward(g.ids, {.token_type_ids = &g.types}).logits;
  EXPECT_GT(max_abs_diff(unmasked.slice(0, 1, 2).slice(1, 0, real), full.slice(0, 1, 2).slice(1, 0, real)), 1e-3f);
  // Token types feed the embeddings.
  Tensor zeros = model->forward(g.ids, {.attention_mask = &g.mask}).logits;
  bool any_type = false;
  for (int64_t i = 0; i < g.types.numel(); ++i) any_type |= g.types.data<int64_t>()[i] != 0;
  if (any_type) EXPECT_GT(max_abs_diff(zeros, full), 1e-3f);
}

TEST(BertGolden, ClassifierHeadNeedsItsWeights) {
  BertGolden g;
  // The MLM checkpoint has no classifier: loading must fail naming it, not run with garbage.
  try {
    AutoModelForSequenceClassification::from_pretrained(g.dir);
    FAIL() << "expected a missing-weights error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("classifier.weight"), std::string::npos) << e.what();
  }
}

TEST(Encoder, DecoderModelTypeIsRefusedClearly) {
  try {
    AutoModel::from_pretrained(shared_path("golden/llama"));
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("not an encoder"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace transformers

namespace transformers {
namespace {

Json tiny_modernbert() {
  return {{"model_type", "modernbert"}, {"vocab_size", 61}, {"hidden_size", 32}, {"intermediate_size", 48},
          {"num_hidden_layers", 4}, {"num_attention_heads", 4}, {"local_attention", 4},
          {"global_attn_every_n_layers", 2}, {"max_position_embeddings", 64}};
}

Tensor id_row(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_values(v, {1, n});
}

// The local layers' window is symmetric: |query - key| <= local_attention / 2 (here 1, passed
// as window 2). Worked against a softmax over the three neighbours computed here.
TEST(ModernBert, SymmetricLocalWindowAttention) {
  std::mt19937 rng(5);
  Tensor q = testing::random_tensor({1, 1, 6, 4}, rng), k = testing::random_tensor({1, 1, 6, 4}, rng),
         v = testing::random_tensor({1, 1, 6, 4}, rng);
  ops::AttentionParams p;
  p.scale = 0.5f;
  p.causal = false;
  p.sliding_window = 2;
  Tensor out = ops::attention(q, k, v, p);  // [1, 6, 4]
  for (int64_t i = 0; i < 6; ++i) {
    double w[6] = {}, total = 0;
    for (int64_t j = std::max<int64_t>(0, i - 1); j <= std::min<int64_t>(5, i + 1); ++j) {
      double s = 0;
      for (int d = 0; d < 4; ++d) s += q.data<float>()[i * 4 + d] * k.data<float>()[j * 4 + d];
      w[j] = std::exp(0.5 * s);
      total += w[j];
    }
    for (int d = 0; d < 4; ++d) {
      double want = 0;
      for (int64_t j = 0; j < 6; ++j) want += w[j] / total * v.data<float>()[j * 4 + d];
      EXPECT_NEAR(out.data<float>()[i * 4 + d], want, 1e-5) << "query " << i;
    }
  }
}

TEST(ModernBert, PaddingIsMaskingAndHeadsRun) {
  auto model = make_random_encoder(PretrainedConfig::from_json(tiny_modernbert()), EncoderHead::MaskedLM, 3, 0.2);
  Tensor ids = Tensor::from_values(std::vector<int64_t>{5, 9, 14, 3, 8, 22, 7, 11, 2, 0, 0, 0}, {2, 6});
  Tensor mask = Tensor::from_values(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, {2, 6});
  EncoderOutput out = model->forward(ids, {.attention_mask = &mask, .output_hidden_states = true});
  ASSERT_EQ(out.logits.shape(), (Shape{2, 6, 61}));
  EXPECT_EQ(out.hidden_states.size(), 5u);
  Tensor alone = model->forward(id_row({7, 11, 2})).logits;
  EXPECT_LE(max_abs_diff(alone, out.logits.slice(0, 1, 2).slice(1, 0, 3)), 1e-4f);
  // The first row alone equals itself in the batch (no mask needed: no padding).
  EXPECT_LE(max_abs_diff(model->forward(id_row({5, 9, 14, 3, 8, 22})).logits, out.logits.slice(0, 0, 1)), 1e-4f);
  // Local layers do limit attention: widening the window changes the result on 6 tokens.
  Json wide = tiny_modernbert();
  wide["local_attention"] = 64;
  auto wide_model = make_random_encoder(PretrainedConfig::from_json(wide), EncoderHead::MaskedLM, 3, 0.2);
  EXPECT_GT(max_abs_diff(wide_model->forward(id_row({5, 9, 14, 3, 8, 22})).logits, out.logits.slice(0, 0, 1)), 1e-3f);
  // Sequence classification with mean pooling gives one row of label logits per sequence, and the
  // padded row's equals the row alone.
  Json cls = tiny_modernbert();
  cls["classifier_pooling"] = "mean";
  cls["num_labels"] = 3;
  auto classifier = make_random_encoder(PretrainedConfig::from_json(cls), EncoderHead::SequenceClassification, 4, 0.2);
  Tensor logits = classifier->forward(ids, {.attention_mask = &mask}).logits;
  ASSERT_EQ(logits.shape(), (Shape{2, 3}));
  EXPECT_LE(max_abs_diff(classifier->forward(id_row({7, 11, 2})).logits, logits.slice(0, 1, 2)), 1e-4f);
}

}  // namespace
}  // namespace transformers

namespace transformers {
namespace {

Json tiny_roberta() {
  return {{"model_type", "roberta"}, {"vocab_size", 50}, {"hidden_size", 16}, {"intermediate_size", 32},
          {"num_hidden_layers", 2}, {"num_attention_heads", 2}, {"max_position_embeddings", 20},
          {"type_vocab_size", 1}, {"pad_token_id", 1}, {"layer_norm_eps", 1e-5}, {"num_labels", 3}};
}

bool has_param(const nn::Module& m, const std::string& name) {
  for (const auto& p : m.named_parameters())
    if (p.name == name) return true;
  return false;
}

// Embeddings = LayerNorm(word + position + type) with positions pad_token_id + 1, + 2, ...
TEST(Roberta, PositionsStartAfterThePaddingIndex) {
  auto model = make_random_encoder(PretrainedConfig::from_json(tiny_roberta()), EncoderHead::MaskedLM, 8, 0.3);
  const std::vector<int64_t> tokens = {0, 7, 9, 2};
  auto out = model->forward(Tensor::from_values(tokens, {1, 4}), {.output_hidden_states = true});
  std::map<std::string, const Tensor*> p;
  for (const auto& s : model->named_parameters()) p[s.name] = s.tensor;
  const float* word = p.at("roberta.embeddings.word_embeddings.weight")->data<float>();
  const float* pos = p.at("roberta.embeddings.position_embeddings.weight")->data<float>();
  const float* type = p.at("roberta.embeddings.token_type_embeddings.weight")->data<float>();
  const float* g = p.at("roberta.embeddings.LayerNorm.weight")->data<float>();
  const float* beta = p.at("roberta.embeddings.LayerNorm.bias")->data<float>();
  for (int64_t i = 0; i < 4; ++i) {
    double e[16], mean = 0, var = 0;
    for (int j = 0; j < 16; ++j) {
      e[j] = word[tokens[i] * 16 + j] + pos[(2 + i) * 16 + j] + type[j];  // padding_idx 1 -> first position 2
      mean += e[j] / 16;
    }
    for (int j = 0; j < 16; ++j) var += (e[j] - mean) * (e[j] - mean) / 16;
    for (int j = 0; j < 16; ++j)
      EXPECT_NEAR(out.hidden_states[0].data<float>()[i * 16 + j], (e[j] - mean) / std::sqrt(var + 1e-5) * g[j] + beta[j], 1e-4);
  }
  EXPECT_TRUE(has_param(*model, "lm_head.layer_norm.weight"));
  EXPECT_TRUE(has_param(*model, "lm_head.bias"));
}

TEST(Roberta, RightPaddingIsMaskedAndPositionsSkipPads) {
  auto model = make_random_encoder(PretrainedConfig::from_json(tiny_roberta()), EncoderHead::SequenceClassification, 9, 0.3);
  EXPECT_TRUE(has_param(*model, "classifier.dense.weight"));
  EXPECT_TRUE(has_param(*model, "classifier.out_proj.weight"));
  EXPECT_FALSE(has_param(*model, "roberta.pooler.dense.weight"));
  Tensor ids = Tensor::from_values(std::vector<int64_t>{0, 5, 6, 7, 2, 0, 8, 2, 1, 1}, {2, 5});
  Tensor mask = Tensor::from_values(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
  Tensor batch = model->forward(ids, {.attention_mask = &mask}).logits;
  ASSERT_EQ(batch.shape(), (Shape{2, 3}));
  Tensor alone = model->forward(Tensor::from_values(std::vector<int64_t>{0, 8, 2}, {1, 3})).logits;
  EXPECT_LE(max_abs_diff(alone, batch.slice(0, 1, 2)), 1e-4f);
}

}  // namespace
}  // namespace transformers

namespace transformers {
namespace {

struct EncoderCase {
  std::string name;
  Json config;
};

class EncoderRoundTrip : public ::testing::TestWithParam<EncoderCase> {};

// save -> load gives the same outputs for every head, and a checkpoint with a head loads into
// the bare model (the base-model prefix is stripped) with the same last hidden state.
TEST_P(EncoderRoundTrip, SaveLoadAndBareModelFromHeadCheckpoint) {
  const PretrainedConfig config = PretrainedConfig::from_json(GetParam().config);
  Tensor ids = Tensor::from_values(std::vector<int64_t>{0, 5, 6, 7, 2, 0, 8, 2, 1, 1}, {2, 5});
  Tensor mask = Tensor::from_values(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
  for (EncoderHead head : {EncoderHead::None, EncoderHead::MaskedLM, EncoderHead::SequenceClassification}) {
    auto model = make_random_encoder(config, head, 31, 0.2);
    auto dir = testing::scratch_dir("encoder_rt_" + GetParam().name + std::to_string(static_cast<int>(head)));
    save_encoder(*model, dir);
    auto loaded = load_encoder(dir, head, {.strict = true});
    EncoderOutput a = model->forward(ids, {.attention_mask = &mask}), b = loaded->forward(ids, {.attention_mask = &mask});
    EXPECT_EQ(max_abs_diff(a.last_hidden_state, b.last_hidden_state), 0.0f);
    if (head != EncoderHead::None) EXPECT_EQ(max_abs_diff(a.logits, b.logits), 0.0f);
    if (head == EncoderHead::MaskedLM) {
      auto bare = AutoModel::from_pretrained(dir);
      EXPECT_EQ(max_abs_diff(bare->forward(ids, {.attention_mask = &mask}).last_hidden_state, a.last_hidden_state), 0.0f);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Encoders, EncoderRoundTrip,
    ::testing::Values(EncoderCase{"bert", {{"model_type", "bert"}, {"vocab_size", 50}, {"hidden_size", 16}, {"intermediate_size", 32},
                                           {"num_hidden_layers", 2}, {"num_attention_heads", 2}, {"max_position_embeddings", 20}}},
                      EncoderCase{"roberta", tiny_roberta()}, EncoderCase{"modernbert", tiny_modernbert()}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace transformers
