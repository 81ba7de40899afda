// Each logits processor against a hand-computed case (the expected values are worked out in the
// comments, not by calling the code under test).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "transformers/generation/logits_processors.h"

namespace transformers {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> run(const LogitsProcessor& p, std::vector<int64_t> seq, std::vector<float> scores) {
  p.apply(seq, scores);
  return scores;
}

// The indices left finite.
std::vector<int> kept(const std::vector<float>& s) {
  std::vector<int> out;
  for (size_t i = 0; i < s.size(); ++i)
    if (std::isfinite(s[i])) out.push_back(static_cast<int>(i));
  return out;
}

// ln of probabilities, so the softmax of the scores is exactly p.
std::vector<float> logs(std::vector<double> p) {
  std::vector<float> out;
  for (double v : p) out.push_back(static_cast<float>(std::log(v)));
  return out;
}

TEST(Processors, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  RepetitionPenaltyLogitsProcessor p(2.0);
  // tokens 1 and 3 were seen (3 twice: penalised once); 0 and 2 untouched.
  EXPECT_EQ(run(p, {1, 3, 3}, {1.0f, 4.0f, -1.0f, -3.0f}), (std::vector<float>{1.0f, 2.0f, -1.0f, -6.0f}));
}

TEST(Processors, NoRepeatNGramBansTheContinuationOfASeenBigram) {
  NoRepeatNGramLogitsProcessor p(2);
  // Sequence 5 7 5: the last token 5 was followed by 7 before, so 7 is banned.
  auto s = run(p, {5, 7, 5}, std::vector<float>(8, 0.0f));
  EXPECT_EQ(s[7], -kInf);
  EXPECT_EQ(kept(s).size(), 7u);
  // Trigrams: 1 2 3 1 2 -> (1 2) was followed by 3.
  NoRepeatNGramLogitsProcessor p3(3);
  auto t = run(p3, {1, 2, 3, 1, 2}, std::vector<float>(5, 0.0f));
  EXPECT_EQ(kept(t), (std::vector<int>{0, 1, 2, 4}));
  // Too short to form an n-gram: nothing banned.
  EXPECT_EQ(kept(run(p3, {1}, std::vector<float>(5, 0.0f))).size(), 5u);
}

TEST(Processors, SequenceBiasOnlyWhenThePrefixMatches) {
  SequenceBiasLogitsProcessor p({{{2}, 1.5}, {{4, 3}, -2.0}, {{9, 3}, 10.0}, {{4, 1}, 0.25}});
  // Row ends with 4: [2] always (+1.5), [4 3] matches (-2 on 3), [9 3] does not, [4 1] matches (+0.25 on 1).
  EXPECT_EQ(run(p, {7, 4}, {0, 0, 0, 0, 0}), (std::vector<float>{0, 0.25f, 1.5f, -2.0f, 0}));
  // Biases on the same token add up.
  SequenceBiasLogitsProcessor twice({{{1}, 1.0}, {{5, 1}, 2.0}});
  EXPECT_EQ(run(twice, {5}, {0, 0})[1], 3.0f);
}

TEST(Processors, NoBadWordsBansSingleTokensAndCompletions) {
  // eos 0 as a lone bad word is dropped (v5 never bans eos this way).
  NoBadWordsLogitsProcessor p({{0}, {2}, {3, 4}}, {0});
  auto s = run(p, {1, 3}, std::vector<float>(5, 1.0f));
  EXPECT_EQ(kept(s), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(kept(run(p, {1, 1}, std::vector<float>(5, 1.0f))), (std::vector<int>{0, 1, 3, 4}));
}

TEST(Processors, MinLengthAndMinNewTokensMaskEos) {
  MinLengthLogitsProcessor p(4, {1, 2});
  EXPECT_EQ(kept(run(p, {5, 5, 5}, {0, 0, 0, 0})), (std::vector<int>{0, 3}));
  EXPECT_EQ(kept(run(p, {5, 5, 5, 5}, {0, 0, 0, 0})).size(), 4u);
  MinNewTokensLengthLogitsProcessor q(3, 2, {1});  // prompt of 3, 2 new tokens before eos
  EXPECT_EQ(kept(run(q, {5, 5, 5, 6}, {0, 0, 0})), (std::vector<int>{0, 2}));
  EXPECT_EQ(kept(run(q, {5, 5, 5, 6, 6}, {0, 0, 0})).size(), 3u);
}

TEST(Processors, ForcedBosAndEos) {
  ForcedBOSTokenLogitsProcessor bos(2);
  EXPECT_EQ(run(bos, {0}, {5, 6, 7, 8}), (std::vector<float>{-kInf, -kInf, 0, -kInf}));
  EXPECT_EQ(run(bos, {0, 1}, {5, 6, 7, 8}), (std::vector<float>{5, 6, 7, 8}));
  ForcedEOSTokenLogitsProcessor eos(5, {1, 3});
  EXPECT_EQ(run(eos, {0, 0, 0, 0}, {5, 6, 7, 8}), (std::vector<float>{-kInf, 0, -kInf, 0}));
  EXPECT_EQ(run(eos, {0, 0, 0}, {5, 6, 7, 8}), (std::vector<float>{5, 6, 7, 8}));
}

TEST(Processors, InfNanRemove) {
  InfNanRemoveLogitsProcessor p;
  auto s = run(p, {}, {std::nanf(""), kInf, -kInf, 1.5f});
  EXPECT_EQ(s, (std::vector<float>{0.0f, std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest(), 1.5f}));
}

TEST(Processors, ExponentialDecayLengthPenalty) {
  // start 1 after a prompt of 2: regulation starts at length 3; at length 5 the eos score s
  // becomes s + |s| * (1.5^2 - 1) = -2 + 2 * 1.25 = 0.5.
  ExponentialDecayLengthPenalty p(1, 1.5, {0}, 2);
  EXPECT_FLOAT_EQ(run(p, {9, 9, 9, 9, 9}, {-2.0f, 1.0f})[0], 0.5f);
  EXPECT_FLOAT_EQ(run(p, {9, 9, 9}, {-2.0f, 1.0f})[0], -2.0f);
}

TEST(Processors, SuppressTokensAlwaysAndAtBegin) {
  SuppressTokensLogitsProcessor p({0, 2});
  EXPECT_EQ(kept(run(p, {1}, {1, 1, 1})), (std::vector<int>{1}));
  SuppressTokensAtBeginLogitsProcessor q({1}, 3);
  EXPECT_EQ(kept(run(q, {4, 4, 4}, {1, 1, 1})), (std::vector<int>{0, 2}));
  EXPECT_EQ(kept(run(q, {4, 4, 4, 4}, {1, 1, 1})).size(), 3u);
}

TEST(Warpers, TemperatureDivides) {
  TemperatureLogitsWarper p(0.5);
  EXPECT_EQ(run(p, {}, {1.0f, -2.0f}), (std::vector<float>{2.0f, -4.0f}));
  EXPECT_THROW(TemperatureLogitsWarper(0.0), ValueError);
}

TEST(Warpers, TopHBoundsTheCumulativeEntropy) {
  // p = 0.5 0.3 0.15 0.05: -p ln p = 0.3466 0.3612 0.2846 0.1498, H = 1.1421; cumulative
  // 0.3466 0.7078 0.9923 1.1421.
  // top_h 0.6: tau = 0.6853 -> only the first (always kept); 0.7078 > tau.
  EXPECT_EQ(kept(run(TopHLogitsWarper(0.6), {}, logs({0.5, 0.3, 0.15, 0.05}))), (std::vector<int>{0}));
  // top_h 0.9: tau = 1.0279 -> the first three.
  EXPECT_EQ(kept(run(TopHLogitsWarper(0.9), {}, logs({0.05, 0.5, 0.15, 0.3}))), (std::vector<int>{1, 2, 3}));
  // Beyond the 100 highest scores nothing survives, whatever top_h.
  std::vector<float> wide(150, 0.0f);
  wide[120] = 5.0f;
  EXPECT_EQ(kept(run(TopHLogitsWarper(1.0), {}, wide)).size(), 100u);
  EXPECT_THROW(TopHLogitsWarper(0.0), ValueError);
}

TEST(Warpers, TopKKeepsTiesWithTheKth) {
  TopKLogitsWarper p(2);
  EXPECT_EQ(kept(run(p, {}, {1, 5, 3, 3, 0})), (std::vector<int>{1, 2, 3}));
  TopKLogitsWarper keep3(1, 3);  // min_tokens_to_keep raises k
  EXPECT_EQ(kept(run(keep3, {}, {1, 5, 3, 2, 0})), (std::vector<int>{1, 2, 3}));
}

TEST(Warpers, TopPKeepsTheSmallestNucleus) {
  // p = 0.5 0.3 0.15 0.05. top_p 0.7: ascending cumsum 0.05 0.20 0.50 1.0; removed while
  // cumsum <= 0.3 -> tokens 3 (0.05) and 2 (0.20) go, 0.5 > 0.3 stays.
  TopPLogitsWarper p(0.7);
  EXPECT_EQ(kept(run(p, {}, logs({0.5, 0.3, 0.15, 0.05}))), (std::vector<int>{0, 1}));
  // top_p 0.85: threshold 0.15 -> only token 3 (0.05) goes (0.20 > 0.15).
  TopPLogitsWarper q(0.85);
  EXPECT_EQ(kept(run(q, {}, logs({0.5, 0.3, 0.15, 0.05}))), (std::vector<int>{0, 1, 2}));
  // A tiny top_p still keeps min_tokens_to_keep.
  TopPLogitsWarper r(0.01, 2);
  EXPECT_EQ(kept(run(r, {}, logs({0.5, 0.3, 0.15, 0.05}))), (std::vector<int>{0, 1}));
}

TEST(Warpers, MinPScalesWithTheTopProbability) {
  // top p 0.5, min_p 0.4 -> threshold 0.2: 0.15 and 0.05 go.
  MinPLogitsWarper p(0.4);
  EXPECT_EQ(kept(run(p, {}, logs({0.5, 0.3, 0.15, 0.05}))), (std::vector<int>{0, 1}));
  MinPLogitsWarper q(0.9, 3);  // keeps the top 3 whatever the threshold
  EXPECT_EQ(kept(run(q, {}, logs({0.5, 0.3, 0.15, 0.05}))), (std::vector<int>{0, 1, 2}));
}

TEST(Warpers, TypicalKeepsTokensNearTheEntropy) {
  // p = 0.4 0.3 0.2 0.1: H = 1.2799 nats; |-ln p - H| = 0.3636, 0.0759, 0.3295, 1.0227.
  // Ascending: token 1 (0.3), 2 (0.2), 0 (0.4), 3 (0.1); cumulative 0.3 0.5 0.9 1.0.
  // mass 0.6: entries with cum < 0.6 -> 2, so the cutoff is the 3rd (token 0): tokens 1 2 0 stay.
  TypicalLogitsWarper p(0.6);
  EXPECT_EQ(kept(run(p, {}, logs({0.4, 0.3, 0.2, 0.1}))), (std::vector<int>{0, 1, 2}));
  // mass 0.4: one entry below -> cutoff is token 2's distance: tokens 1 and 2 stay.
  TypicalLogitsWarper q(0.4);
  EXPECT_EQ(kept(run(q, {}, logs({0.4, 0.3, 0.2, 0.1}))), (std::vector<int>{1, 2}));
}

TEST(Warpers, EpsilonCutsBelowEpsilon) {
  EpsilonLogitsWarper p(0.12);
  EXPECT_EQ(kept(run(p, {}, logs({0.5, 0.3, 0.15, 0.05}))), (std::vector<int>{0, 1, 2}));
  EpsilonLogitsWarper all(0.9, 1);  // would remove everything: the top token stays
  EXPECT_EQ(kept(run(all, {}, logs({0.5, 0.3, 0.15, 0.05}))), (std::vector<int>{0}));
}

TEST(Warpers, EtaUsesTheEntropyBound) {
  // p = 0.5 0.3 0.15 0.05: H = 1.1417 nats; sqrt(0.1) * exp(-H) = 0.10093 > 0.1 -> eta = 0.1.
  EtaLogitsWarper p(0.1);
  EXPECT_EQ(kept(run(p, {}, logs({0.5, 0.3, 0.15, 0.05}))), (std::vector<int>{0, 1, 2}));
  // epsilon 0.3: sqrt(0.3) * exp(-H) = 0.1748 < 0.3 -> eta = 0.1748: only 0.05 and 0.15 go.
  EtaLogitsWarper q(0.3);
  EXPECT_EQ(kept(run(q, {}, logs({0.5, 0.3, 0.15, 0.05}))), (std::vector<int>{0, 1}));
}

TEST(Warpers, LogitNormalizationIsLogSoftmax) {
  LogitNormalization p;
  auto s = run(p, {}, {std::log(3.0f), std::log(1.0f)});
  EXPECT_NEAR(s[0], std::log(0.75), 1e-6);
  EXPECT_NEAR(s[1], std::log(0.25), 1e-6);
}

TEST(ProcessorList, FollowsV5Order) {
  GenerationConfig g;
  g.do_sample = true;
  g.temperature = 0.5;
  g.top_k = 3;
  g.top_p = 0.9;
  g.repetition_penalty = 1.2;
  g.eos_token_ids = {0};
  g.min_new_tokens = 2;
  g.renormalize_logits = true;
  auto list = make_logits_processors(g, {.input_length = 4, .max_length = 10});
  ASSERT_EQ(list.size(), 6u);
  EXPECT_NE(dynamic_cast<const RepetitionPenaltyLogitsProcessor*>(&list[0]), nullptr);
  EXPECT_NE(dynamic_cast<const MinNewTokensLengthLogitsProcessor*>(&list[1]), nullptr);
  EXPECT_NE(dynamic_cast<const TemperatureLogitsWarper*>(&list[2]), nullptr);
  EXPECT_NE(dynamic_cast<const TopKLogitsWarper*>(&list[3]), nullptr);
  EXPECT_NE(dynamic_cast<const TopPLogitsWarper*>(&list[4]), nullptr);
  EXPECT_NE(dynamic_cast<const LogitNormalization*>(&list[5]), nullptr);
  // Greedy: the warpers are not built (top_k = 50 by default would otherwise apply).
  GenerationConfig greedy;
  EXPECT_TRUE(make_logits_processors(greedy, {.input_length = 4, .max_length = 10}).empty());
  // Temperature before top-k matters: top-k of the scaled scores equals that of the raw ones,
  // but min_p after temperature sees sharper probabilities (v5 puts min_p after temperature).
  GenerationConfig mp;
  mp.do_sample = true;
  mp.top_k = 0;
  mp.temperature = 0.5;
  mp.min_p = 0.5;
  auto l2 = make_logits_processors(mp, {.input_length = 1, .max_length = 5});
  // ln p = (0.5, 0.3, 0.2): /0.5 -> p^2 normalised = 0.658, 0.237, 0.105: threshold 0.329.
  std::vector<float> s = logs({0.5, 0.3, 0.2});
  l2.apply(std::vector<int64_t>{1}, s);
  EXPECT_EQ(kept(s), (std::vector<int>{0}));
}

}  // namespace
}  // namespace transformers
