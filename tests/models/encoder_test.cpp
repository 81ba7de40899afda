// BERT against the outputs of HF Transformers (../shared/golden/bert, BertForMaskedLM with a
// padded second sequence and token type ids): MLM logits, hidden states and the bare encoder's
// last hidden state within 1e-4; padding behaves as masking (a padded row equals the sequence
// run alone).
#include "common/test_util.h"
#include "transformers/io/npy.h"
#include "transformers/models/encoder.h"

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
