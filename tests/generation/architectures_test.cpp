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

struct Arch {
  std::string name;
  Json overrides;
};

class ArchitectureGeneration : public ::testing::TestWithParam<Arch> {
 protected:
  std::unique_ptr<CausalLM> model() const {
    Json c = {{"vocab_size", 61}, {"hidden_size", 48}, {"intermediate_size", 80}, {"num_hidden_layers", 3},
              {"num_attention_heads", 6}, {"num_key_value_heads", 2}, {"head_dim", 8}, {"rms_norm_eps", 1e-5},
              {"max_position_embeddings", 64}, {"rope_theta", 10000.0}};
    c.update(GetParam().overrides);
    return make_random_model(PretrainedConfig::from_json(c), 17, 0.3);
  }
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
    ::testing::Values(Arch{"llama", {{"model_type", "llama"}}},
                      Arch{"mistral_window", {{"model_type", "mistral"}, {"sliding_window", 4}}},
                      Arch{"qwen2", {{"model_type", "qwen2"}}},
                      Arch{"qwen3", {{"model_type", "qwen3"}}},
                      Arch{"gemma", {{"model_type", "gemma"}}},
                      Arch{"gemma2", {{"model_type", "gemma2"}, {"sliding_window", 4}, {"query_pre_attn_scalar", 16}, {"attn_logit_softcapping", 5.0}, {"final_logit_softcapping", 3.0}}},
                      Arch{"gemma3", {{"model_type", "gemma3_text"}, {"sliding_window", 4}, {"sliding_window_pattern", 2}, {"rope_local_base_freq", 100.0}}},
                      Arch{"phi3", {{"model_type", "phi3"}}},
                      Arch{"gpt2", {{"model_type", "gpt2"}, {"n_embd", 48}, {"n_layer", 3}, {"n_head", 6}, {"n_positions", 64}}},
                      Arch{"olmo2", {{"model_type", "olmo2"}}},
                      Arch{"starcoder2", {{"model_type", "starcoder2"}, {"sliding_window", 5}}},
                      Arch{"cohere", {{"model_type", "cohere"}, {"use_qk_norm", true}}},
                      Arch{"phi", {{"model_type", "phi"}, {"partial_rotary_factor", 0.5}}}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace transformers
