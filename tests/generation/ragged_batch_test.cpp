// The ragged forward over a paged KV cache against the dense path, on every decoder architecture:
// sequences of different lengths packed into one forward (prefill chunks and decode tokens mixed,
// over several steps, across page boundaries and past sliding windows) give, row for row, the
// logits each sequence gets alone from a dense forward over its whole text.
#include <gtest/gtest.h>

#include <cmath>

#include "tiny.h"
#include "transformers/cache/paged_cache.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::random_rows;

class RaggedArchitecture : public ::testing::TestWithParam<testing::TinyArch> {
 protected:
  std::unique_ptr<CausalLM> model() const { return testing::tiny_arch_model(GetParam(), 256); }
};

// Logits of `ids` alone through the dense path, [n, V] as one flat vector.
std::vector<float> dense_logits(const CausalLM& m, const std::vector<int64_t>& ids) {
  return ops::to_float_vector(m.forward(Tensor::from_values(ids, {1, static_cast<int64_t>(ids.size())})).logits);
}

TEST_P(RaggedArchitecture, RaggedStepsEqualEachSequenceAloneDense) {
  auto m = model();
  const int64_t V = 61;
  // Lengths cross the 64-token page and the windows (4, 5) of the sliding architectures.
  const std::vector<std::vector<int64_t>> texts = {random_rows(1, 150, V, 1)[0], random_rows(1, 9, V, 2)[0],
                                                   random_rows(1, 3, V, 3)[0], random_rows(1, 70, V, 4)[0]};
  // Tokens fed per step for each sequence (0: not in that step): chunks, then decode tokens.
  const std::vector<std::vector<int64_t>> schedule = {
      {40, 6, 1, 0}, {30, 1, 1, 66}, {70, 1, 1, 1}, {1, 1, 0, 1}, {9, 0, 0, 1}};
  PagedKVCache cache(m->kv_layout(), int64_t{64} << 20);
  std::vector<int64_t> done(texts.size(), 0);
  for (size_t step = 0; step < schedule.size(); ++step) {
    std::vector<RaggedEntry> entries;
    std::vector<size_t> who;
    for (size_t s = 0; s < texts.size(); ++s) {
      const int64_t n = schedule[step][s];
      if (n == 0) continue;
      cache.trim_to_window(static_cast<int64_t>(s), done[s]);
      ASSERT_TRUE(cache.reserve(static_cast<int64_t>(s), done[s] + n));
      entries.push_back({static_cast<int64_t>(s), done[s],
                         std::vector<int64_t>(texts[s].begin() + done[s], texts[s].begin() + done[s] + n)});
      who.push_back(s);
    }
    RaggedBatch batch = make_ragged_batch(cache, entries);
    batch.logit_rows.clear();  // every row
    const std::vector<float> got = ops::to_float_vector(m->forward(batch.input_ids, {.ragged = &batch}).logits);
    int64_t row = 0;
    for (size_t e = 0; e < entries.size(); ++e) {
      const size_t s = who[e];
      const int64_t n = static_cast<int64_t>(entries[e].tokens.size());
      const std::vector<float> want = dense_logits(*m, {texts[s].begin(), texts[s].begin() + done[s] + n});
      for (int64_t i = 0; i < n; ++i, ++row) {
        const float* w = want.data() + (done[s] + i) * V;
        // 3e-5 relative to the row's largest logit: the dense path itself rounds by about 1e-5
        // relative between a 6- and a 47-token forward of one text (the GEMM blocks by rows):
        // 2.3e-5 on a Gemma row whose largest logit is 13.8 (AVX-512 tier). On the AVX2 tier
        // (OpenBLAS for 8+ rows) a Gemma row differs by 1.2e-4 at a largest logit of 9.1
        // (1.3e-5 relative).
        float scale = 1.0f;
        for (int64_t v = 0; v < V; ++v) scale = std::max(scale, std::abs(w[v]));
        for (int64_t v = 0; v < V; ++v)
          ASSERT_NEAR(got[static_cast<size_t>(row * V + v)], w[v], 3e-5 * scale)
              << GetParam().name << " step " << step << " sequence " << s << " position " << done[s] + i << " vocab " << v;
      }
      done[s] += n;
    }
  }
  // Sequence 0 (150 tokens) kept its first page in full-attention layers only: sliding layers
  // (windows 4, 5) gave it back.
  const std::vector<PagedLayerSpec> layout = m->kv_layout();
  for (size_t l = 0; l < layout.size(); ++l)
    EXPECT_EQ(cache.block_table(0, cache.group_of_layer(l)).at(0) == -1, layout[l].window.has_value()) << "layer " << l;
  for (size_t s = 0; s < texts.size(); ++s) cache.release(static_cast<int64_t>(s));
  EXPECT_EQ(cache.used_blocks(), 0);
}

TEST(PagedAttention, ABadBlockTableIsAnErrorNotARead) {
  PagedKVCache cache({{2, 8, std::nullopt}}, int64_t{1} << 20);
  ASSERT_TRUE(cache.reserve(0, 3));
  const Tensor q = Tensor::zeros({3, 4, 8}, DType::F32), kv = Tensor::zeros({3, 2, 8}, DType::F32);
  std::vector<ops::RaggedSequence> seqs = {{.token_begin = 0, .tokens = 3, .position = 0, .block_table = {7}}};
  EXPECT_THROW(ops::paged_kv_write(cache.layer_view(0), kv, kv, seqs), ValueError);
  EXPECT_THROW(ops::paged_attention(q, cache.layer_view(0), seqs, {}), ValueError);
  seqs[0].block_table = {};  // no page for the positions
  EXPECT_THROW(ops::paged_attention(q, cache.layer_view(0), seqs, {}), ValueError);
  seqs[0] = {.token_begin = 2, .tokens = 3, .position = 0, .block_table = cache.block_table(0, 0)};  // rows past T
  EXPECT_THROW(ops::paged_attention(q, cache.layer_view(0), seqs, {}), ValueError);
}

TEST(PagedKVCache, BudgetBoundsBlocksAndReleaseReturnsThem) {
  // One layer of 2 KV heads x 8: a block is 2 * 2 * 64 * 8 floats = 8 KiB; a budget of 3 blocks.
  PagedKVCache cache({{2, 8, std::nullopt}}, 3 * 8192);
  EXPECT_TRUE(cache.reserve(0, 128));   // 2 blocks
  EXPECT_FALSE(cache.reserve(1, 130));  // needs 3 more: takes the last one, then no room
  EXPECT_EQ(cache.used_blocks(), 3);
  EXPECT_EQ(cache.allocated_bytes(), 3 * 8192);
  cache.release(0);
  EXPECT_EQ(cache.used_blocks(), 1);
  EXPECT_EQ(cache.free_blocks(), 2);
  EXPECT_TRUE(cache.reserve(1, 130));  // reuses the freed blocks, allocates nothing
  EXPECT_EQ(cache.allocated_bytes(), 3 * 8192);
  EXPECT_EQ(cache.bytes_for(130, 64), 3 * 8192);
  EXPECT_THROW(PagedKVCache({{2, 8, std::nullopt}}, 8191), ValueError);
}

TEST(PagedKVCache, PrefixBlocksAreSharedByNameAndCachedUntilNeeded) {
  // A block: 8 KiB; a budget of 4.
  PagedKVCache cache({{2, 8, std::nullopt}}, 4 * 8192);
  ASSERT_TRUE(cache.prefix_caching());
  const std::vector<int64_t> text = random_rows(1, 150, 50, 7)[0];
  ASSERT_TRUE(cache.reserve(0, 150));
  cache.publish_prefix(0, text, 150);  // names blocks 0 and 1 (the third is partial)
  std::vector<int64_t> other = text;
  other[130] = (other[130] + 1) % 50;  // differs in the third block only
  EXPECT_EQ(cache.match_prefix(1, other), 128);
  EXPECT_EQ(cache.block_table(1, 0), std::vector<int32_t>(cache.block_table(0, 0).begin(), cache.block_table(0, 0).begin() + 2));
  EXPECT_EQ(cache.used_blocks(), 3);  // shared blocks count once
  std::vector<int64_t> changed = text;
  changed[3] = (changed[3] + 1) % 50;  // differs in the first block: the chain misses from there
  EXPECT_EQ(cache.match_prefix(2, changed), 0);
  EXPECT_EQ(cache.match_prefix(3, std::vector<int64_t>(text.begin(), text.begin() + 128)), 64);  // one token left to compute
  cache.release(0);
  cache.release(1);
  cache.release(3);
  EXPECT_EQ(cache.used_blocks(), 0);
  EXPECT_EQ(cache.free_blocks(), 3);  // two named blocks cached, one idle
  EXPECT_EQ(cache.match_prefix(4, text), 128);  // found after their holders ended
  cache.release(4);
  ASSERT_TRUE(cache.reserve(5, 256));  // needs all 4 blocks: the cached ones are evicted
  EXPECT_EQ(cache.match_prefix(6, text), 0);
  EXPECT_EQ(cache.allocated_bytes(), 4 * 8192);
}

INSTANTIATE_TEST_SUITE_P(
    Decoders, RaggedArchitecture,
    ::testing::ValuesIn(testing::tiny_architectures(/*with_moe=*/true)),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace transformers
