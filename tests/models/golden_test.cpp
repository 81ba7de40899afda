// The Llama family against the outputs of HF Transformers (../shared/golden/<arch>): logits and
// hidden states of one forward pass within 1e-4, greedy ids equal, per-step logits equal, with
// and without the KV cache.
#include <fstream>

#include "common/test_util.h"
#include "transformers/generation/generate.h"
#include "transformers/io/json.h"
#include "transformers/io/npy.h"
#include "transformers/models/auto.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::max_abs_diff;
using testing::shared_path;

class GoldenModel : public ::testing::TestWithParam<std::string> {
 protected:
  std::filesystem::path dir() const { return shared_path("golden/" + GetParam()); }
};

TEST_P(GoldenModel, LogitsAndHiddenStatesMatchTransformers) {
  auto model = AutoModelForCausalLM::from_pretrained(dir());
  Tensor ids = load_npy(dir() / "input_ids.npy");
  CausalLMOutput out = model->forward(ids, {.output_hidden_states = true});
  Tensor logits = load_npy(dir() / "logits.npy");
  const float d = max_abs_diff(out.logits, logits);
  EXPECT_LE(d, 1e-4f);
  std::printf("%s logits max |diff| %.3g\n", GetParam().c_str(), d);
  Tensor hs = load_npy(dir() / "hidden_states.npy");
  ASSERT_EQ(static_cast<int64_t>(out.hidden_states.size()), hs.size(0));
  for (int64_t i = 0; i < hs.size(0); ++i)
    EXPECT_LE(max_abs_diff(out.hidden_states[i], hs.select(0, i)), 1e-4f) << "hidden state " << i;
}

TEST_P(GoldenModel, GreedyGenerationMatchesTransformers) {
  auto model = AutoModelForCausalLM::from_pretrained(dir());
  Json gen = read_json_file(dir() / "generate.json");
  Tensor ids = load_npy(dir() / "input_ids.npy");
  GenerationConfig cfg = model->generation_config;
  cfg.max_new_tokens = gen["max_new_tokens"].get<int64_t>();
  cfg.eos_token_ids.clear();  // the golden run generates exactly max_new_tokens
  const auto expected = gen["output_ids"].get<std::vector<std::vector<int64_t>>>();
  Tensor step_logits = load_npy(dir() / "greedy_step_logits.npy");
  for (bool use_cache : {true, false}) {
    GenerateOutput out = generate(*model, ids, cfg, {.use_cache = use_cache, .output_scores = true});
    EXPECT_EQ(out.sequences, expected) << (use_cache ? "with" : "without") << " cache";
    ASSERT_EQ(static_cast<int64_t>(out.scores.size()), step_logits.size(0));
    for (int64_t s = 0; s < step_logits.size(0); ++s)
      EXPECT_LE(max_abs_diff(out.scores[s], step_logits.select(0, s)), 1e-4f) << "step " << s;
  }
}

INSTANTIATE_TEST_SUITE_P(LlamaFamily, GoldenModel, ::testing::Values("llama", "llama3", "mistral", "qwen2", "qwen3"));
INSTANTIATE_TEST_SUITE_P(MoreArchitectures, GoldenModel, ::testing::Values("gemma2", "gemma3", "phi3", "gpt2"));
// Per-expert checkpoint keys, fused at load by the conversion tables (loading/).
INSTANTIATE_TEST_SUITE_P(MixtureOfExperts, GoldenModel, ::testing::Values("mixtral", "qwen3_moe"));

}  // namespace
}  // namespace transformers

namespace transformers {
namespace {

// The same checkpoints converted to bf16 on load (GPT-2's transposed Conv1D weights included)
// stay within bf16 rounding of Transformers' f32 logits.
class GoldenBf16 : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenBf16, Bf16LogitsStayCloseToTransformers) {
  auto dir = testing::shared_path("golden/" + GetParam());
  auto model = AutoModelForCausalLM::from_pretrained(dir, {.dtype = "bfloat16"});
  Tensor logits = model->forward(load_npy(dir / "input_ids.npy")).logits;
  Tensor ref = load_npy(dir / "logits.npy");
  const float d = testing::max_abs_diff(logits, ref);
  EXPECT_LE(d, 0.05f * testing::max_abs(ref));
  EXPECT_GT(d, 0.0f);  // it really ran in bf16
}

INSTANTIATE_TEST_SUITE_P(MoreArchitectures, GoldenBf16, ::testing::Values("gemma2", "gemma3", "phi3", "gpt2"));

}  // namespace
}  // namespace transformers
