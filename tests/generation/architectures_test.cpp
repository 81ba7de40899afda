// generate()'s batch and cache invariants on every decoder architecture the registry builds:
// a left-padded batch generates, row by row, what each prompt generates alone (the mask and the
// mask-derived positions reach every model's attention and position embedding), and the static
// cache gives what the dynamic one gives.
#include <gtest/gtest.h>

#include "tiny.h"
#include "transformers/generation/generate.h"

namespace transformers {
namespace {

using testing::ids_tensor;

class ArchitectureGeneration : public ::testing::TestWithParam<testing::TinyArch> {
 protected:
  std::unique_ptr<CausalLM> model() const { return testing::tiny_arch_model(GetParam(), 64); }
};

TEST_P(ArchitectureGeneration, LeftPaddedBatchEqualsEachPromptAlone) {
  auto m = model();
  const std::vector<std::vector<int64_t>> prompts = {{3, 14, 15, 9, 26, 5, 35}, {8, 9}, {27, 18, 28, 18}};
  const size_t L = 7;
  std::vector<std::vector<int64_t>> padded, mask;
  for (const auto& p : prompts) {
    std::vector<int64_t> row(L - p.size(), 0), mr(L - p.size(), 0);
    row.insert(row.end(), p.begin(), p.end());
    mr.resize(L, 1);
    padded.push_back(row);
    mask.push_back(mr);
  }
  Tensor mask_t = ids_tensor(mask);
  GenerationConfig g;
  g.max_new_tokens = 8;
  for (const char* impl : {"dynamic", "static"}) {
    g.cache_implementation = impl;
    auto batch = generate(*m, ids_tensor(padded), g, {.attention_mask = &mask_t}).sequences;
    for (size_t r = 0; r < prompts.size(); ++r) {
      auto alone = generate(*m, ids_tensor({prompts[r]}), g).sequences[0];
      EXPECT_EQ(std::vector<int64_t>(batch[r].begin() + (L - prompts[r].size()), batch[r].end()), alone)
          << "row " << r << ", " << impl << " cache";
    }
  }
}

TEST_P(ArchitectureGeneration, BeamSearchWithCacheEqualsWithout) {
  auto m = model();
  GenerationConfig g;
  g.max_new_tokens = 5;
  g.num_beams = 3;
  Tensor ids = ids_tensor({{3, 14, 15, 9}, {2, 7, 1, 8}});
  auto cached = generate(*m, ids, g), uncached = generate(*m, ids, g, {.use_cache = false});
  EXPECT_EQ(cached.sequences, uncached.sequences);
  for (size_t i = 0; i < cached.sequences_scores.size(); ++i)
    EXPECT_NEAR(cached.sequences_scores[i], uncached.sequences_scores[i], 1e-4);
}

INSTANTIATE_TEST_SUITE_P(
    Decoders, ArchitectureGeneration,
    ::testing::ValuesIn(testing::tiny_architectures(/*with_moe=*/false)),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace transformers
