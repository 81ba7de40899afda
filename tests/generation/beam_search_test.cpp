// Beam search against exhaustive search: with num_beams >= V^(n-1) the beams hold every
// partial hypothesis, so beam search must return exactly the best sequences an enumeration of
// all V^n continuations finds (scored independently by full forward passes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "tiny.h"
#include "transformers/generation/generate.h"

namespace transformers {
namespace {

using testing::ids_tensor;
using testing::tiny_model;

// Sum of log p(token) of `cont` after `prompt`, from one forward pass without cache.
double log_prob(const CausalLM& m, const std::vector<int64_t>& prompt, const std::vector<int64_t>& cont) {
  std::vector<int64_t> row = prompt;
  row.insert(row.end(), cont.begin(), cont.end());
  Tensor logits = m.forward(ids_tensor({row})).logits;
  const int64_t V = logits.size(2);
  double sum = 0;
  for (size_t t = 0; t < cont.size(); ++t) {
    const float* l = logits.data<float>() + (prompt.size() - 1 + t) * V;
    double mx = *std::max_element(l, l + V), z = 0;
    for (int64_t v = 0; v < V; ++v) z += std::exp(l[v] - mx);
    sum += l[cont[t]] - mx - std::log(z);
  }
  return sum;
}

struct Hypothesis {
  std::vector<int64_t> tokens;
  double score;
};

// Every complete hypothesis of at most n tokens: one that ends at its first eos, or runs to n.
std::vector<Hypothesis> enumerate(const CausalLM& m, const std::vector<int64_t>& prompt, int64_t V, int64_t n,
                                  std::optional<int64_t> eos, double length_penalty) {
  std::vector<Hypothesis> out;
  std::function<void(std::vector<int64_t>&)> rec = [&](std::vector<int64_t>& cont) {
    const bool ended = !cont.empty() && eos && cont.back() == *eos;
    if (ended || static_cast<int64_t>(cont.size()) == n) {
      out.push_back({cont, log_prob(m, prompt, cont) / std::pow(static_cast<double>(cont.size()), length_penalty)});
      return;
    }
    for (int64_t v = 0; v < V; ++v) {
      cont.push_back(v);
      rec(cont);
      cont.pop_back();
    }
  };
  std::vector<int64_t> empty;
  rec(empty);
  std::sort(out.begin(), out.end(), [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
  return out;
}

std::vector<int64_t> generated(const GenerateOutput& out, size_t row, size_t prompt_len) {
  const size_t n = static_cast<size_t>(std::count_if(out.beam_indices[row].begin(), out.beam_indices[row].end(),
                                                     [](int64_t b) { return b >= 0; }));
  return {out.sequences[row].begin() + prompt_len, out.sequences[row].begin() + prompt_len + n};
}

TEST(BeamSearch, EqualsExhaustiveSearchWhenBeamsCoverTheSpace) {
  const int64_t V = 5, n = 3;
  auto m = tiny_model(V, 21);
  const std::vector<int64_t> prompt = {2, 4, 1};
  GenerationConfig g;
  g.max_new_tokens = n;
  g.num_beams = 25;  // V^(n-1)
  g.num_return_sequences = 5;
  g.length_penalty = 0.0;
  auto out = generate(*m, ids_tensor({prompt}), g);
  auto all = enumerate(*m, prompt, V, n, std::nullopt, 0.0);
  ASSERT_TRUE(out.is_beam_output());
  ASSERT_EQ(out.sequences.size(), 5u);
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(generated(out, k, prompt.size()), all[k].tokens) << "rank " << k;
    EXPECT_NEAR(out.sequences_scores[k], all[k].score, 1e-4) << "rank " << k;
  }
  // Two beams do not cover the space: the test can tell (the 2-beam answer scores no better).
  g.num_beams = 2;
  g.num_return_sequences = 1;
  auto narrow = generate(*m, ids_tensor({prompt}), g);
  EXPECT_LE(narrow.sequences_scores[0], all[0].score + 1e-4);
}

TEST(BeamSearch, WithEosAndLengthPenaltyNeverEqualsExhaustive) {
  const int64_t V = 4, n = 3, eos = 1;
  for (uint64_t seed : {3u, 8u, 13u}) {
    auto m = tiny_model(V, seed);
    const std::vector<int64_t> prompt = {3, 0, 2};
    GenerationConfig g;
    g.max_new_tokens = n;
    g.num_beams = 16;  // V^(n-1)
    g.eos_token_ids = {eos};
    g.length_penalty = 1.0;
    g.early_stopping = EarlyStopping::Never;
    auto out = generate(*m, ids_tensor({prompt}), g);
    auto all = enumerate(*m, prompt, V, n, eos, 1.0);
    EXPECT_EQ(generated(out, 0, prompt.size()), all[0].tokens) << "seed " << seed;
    EXPECT_NEAR(out.sequences_scores[0], all[0].score, 1e-4) << "seed " << seed;
  }
}

TEST(BeamSearch, ScoresAreTheLengthPenalisedLogProbabilityOfEachSequence) {
  const int64_t V = 30;
  auto m = tiny_model(V, 4);
  const std::vector<int64_t> prompt = {5, 9, 11, 2};
  for (EarlyStopping es : {EarlyStopping::False, EarlyStopping::True, EarlyStopping::Never}) {
    GenerationConfig g;
    g.max_new_tokens = 6;
    g.num_beams = 4;
    g.num_return_sequences = 3;
    g.eos_token_ids = {7};
    g.length_penalty = 0.7;
    g.early_stopping = es;
    auto out = generate(*m, ids_tensor({prompt}), g);
    ASSERT_EQ(out.sequences.size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
      auto cont = generated(out, k, prompt.size());
      ASSERT_FALSE(cont.empty());
      EXPECT_TRUE(cont.back() == 7 || cont.size() == 6u);
      EXPECT_NEAR(out.sequences_scores[k], log_prob(*m, prompt, cont) / std::pow(cont.size(), 0.7), 1e-4);
      if (k > 0) {
        EXPECT_GE(out.sequences_scores[k - 1], out.sequences_scores[k]);
      }
    }
  }
}

TEST(BeamSearch, CacheReorderingMatchesNoCacheAndPaddingMatchesAlone) {
  auto m = tiny_model(40, 6);
  GenerationConfig g;
  g.max_new_tokens = 5;
  g.num_beams = 3;
  g.num_return_sequences = 2;
  g.eos_token_ids = {3};
  std::vector<std::vector<int64_t>> prompts = {{7, 8, 9, 10}, {20, 21}};
  Tensor padded = ids_tensor({{7, 8, 9, 10}, {0, 0, 20, 21}});
  Tensor mask = ids_tensor({{1, 1, 1, 1}, {0, 0, 1, 1}});
  auto cached = generate(*m, padded, g, {.attention_mask = &mask});
  auto uncached = generate(*m, padded, g, {.use_cache = false, .attention_mask = &mask});
  EXPECT_EQ(cached.sequences, uncached.sequences);
  EXPECT_EQ(cached.beam_indices, uncached.beam_indices);
  for (size_t b = 0; b < 2; ++b) {
    auto alone = generate(*m, ids_tensor({prompts[b]}), g);
    const size_t pad = 4 - prompts[b].size();
    for (size_t k = 0; k < 2; ++k) {
      std::vector<int64_t> got(cached.sequences[b * 2 + k].begin() + pad, cached.sequences[b * 2 + k].end());
      auto want = alone.sequences[k];
      // The batch pads to its longest row; compare the common part.
      got.resize(std::min(got.size(), want.size()));
      want.resize(got.size());
      EXPECT_EQ(got, want) << "item " << b << " rank " << k;
      EXPECT_NEAR(cached.sequences_scores[b * 2 + k], alone.sequences_scores[k], 1e-4);
    }
  }
  // beam_indices point into the expanded batch of this item.
  for (size_t r = 0; r < cached.beam_indices.size(); ++r)
    for (int64_t bi : cached.beam_indices[r])
      if (bi >= 0) {
        EXPECT_EQ(bi / 3, static_cast<int64_t>(r / 2));
      }
}

TEST(BeamSearch, BeamSamplingIsReproducibleAndConsistent) {
  auto m = tiny_model(30, 9);
  GenerationConfig g;
  g.max_new_tokens = 5;
  g.num_beams = 3;
  g.do_sample = true;
  g.temperature = 1.3;
  g.top_k = 0;
  g.length_penalty = 1.0;
  const std::vector<int64_t> prompt = {1, 2, 3};
  auto a = generate(*m, ids_tensor({prompt}), g, {.seed = 5});
  auto b = generate(*m, ids_tensor({prompt}), g, {.seed = 5});
  EXPECT_EQ(a.sequences, b.sequences);
  bool differs = false;
  for (uint64_t s = 6; s < 12 && !differs; ++s) differs = generate(*m, ids_tensor({prompt}), g, {.seed = s}).sequences != a.sequences;
  EXPECT_TRUE(differs);
  // The score is the sequence's log-probability under the processed (temperature) distribution.
  auto cont = generated(a, 0, prompt.size());
  std::vector<int64_t> row = prompt;
  double sum = 0;
  for (int64_t t : cont) {
    Tensor logits = m->forward(ids_tensor({row})).logits;
    const float* l = logits.data<float>() + (row.size() - 1) * 30;
    // v5 accumulates the processed log-probabilities: log_softmax, then the temperature warper.
    double mx = *std::max_element(l, l + 30), z = 0;
    for (int v = 0; v < 30; ++v) z += std::exp(l[v] - mx);
    sum += (l[t] - mx - std::log(z)) / 1.3;
    row.push_back(t);
  }
  EXPECT_NEAR(a.sequences_scores[0], sum / cont.size(), 1e-4);
}

}  // namespace
}  // namespace transformers
