// Every v5 rope_type against inverse frequencies worked out by hand from the formulas of
// Transformers' modeling_rope_utils.py (head dim 8, theta 10000: the default frequencies are
// exactly 1, 0.1, 0.01, 0.001, which keeps the expected values readable).
#include "common/test_util.h"
#include "transformers/nn/rotary.h"

namespace transformers {
namespace {

// The rope parameters of a config holding `j` (its max_position_embeddings only satisfies the
// config's check; each RotaryEmbedding below is given its own length).
RopeParameters rope(const Json& j) {
  PretrainedConfig c = PretrainedConfig::from_json(
      {{"model_type", "llama"}, {"max_position_embeddings", 4096}, {"rope_parameters", j}});
  return c.rope_parameters;
}

void expect_freqs(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 2e-6 * std::max(1.0, want[i])) << "i = " << i;
}

TEST(Rope, Default) {
  nn::RotaryEmbedding r(rope({{"rope_type", "default"}, {"rope_theta", 10000.0}}), 8, 64);
  expect_freqs(r.inv_freq(), {1, 0.1, 0.01, 0.001});
  EXPECT_EQ(r.attention_scaling(), 1.0f);
}

TEST(Rope, Linear) {
  nn::RotaryEmbedding r(rope({{"rope_type", "linear"}, {"rope_theta", 10000.0}, {"factor", 4.0}}), 8, 64);
  expect_freqs(r.inv_freq(), {0.25, 0.025, 0.0025, 0.00025});
}

TEST(Rope, PartialRotaryFactorRotatesTheFirstPart) {
  // head_dim 16 x 0.5: an 8-dim rotary part with exponents over 8.
  nn::RotaryEmbedding r(rope({{"rope_type", "default"}, {"rope_theta", 10000.0}, {"partial_rotary_factor", 0.5}}), 16, 64);
  EXPECT_EQ(r.rotary_dim(), 8);
  expect_freqs(r.inv_freq(), {1, 0.1, 0.01, 0.001});
}

TEST(Rope, DynamicGrowsTheBasePastMaxPositions) {
  nn::RotaryEmbedding r(rope({{"rope_type", "dynamic"}, {"rope_theta", 10000.0}, {"factor", 2.0}}), 8, 16);
  expect_freqs(r.inv_freq_for(16), {1, 0.1, 0.01, 0.001});  // within max_position_embeddings: unchanged
  // seq_len 32: base = 10000 * (2 * 32 / 16 - 1)^(8 / 6) = 43267.487...
  expect_freqs(r.inv_freq_for(32), {1, 0.06933612743506347, 0.06933612743506347 * 0.06933612743506347,
                                    std::pow(0.06933612743506347, 3)});
}

// v5's dynamic_frequency_update: the grown table stays for shorter sequences that are still
// past max_position_embeddings, and resets below it.
TEST(Rope, DynamicKeepsTheLongestTableUntilASequenceFitsAgain) {
  nn::RotaryEmbedding r(rope({{"rope_type", "dynamic"}, {"rope_theta", 10000.0}, {"factor", 2.0}}), 8, 16);
  const std::vector<float> grown = r.inv_freq_for(32);
  EXPECT_NEAR(grown[1], 0.06933612743506347, 1e-7);
  EXPECT_EQ(r.inv_freq_for(24), grown);        // 24 < 32 cached: kept
  EXPECT_EQ(r.inv_freq_for(16), grown);        // not below max_position_embeddings: kept
  expect_freqs(r.inv_freq_for(8), {1, 0.1, 0.01, 0.001});  // reset
  // seq 24 now grows from the original: base 10000 * (2 * 24 / 16 - 1)^(4 / 3) = 10000 * 2^(4/3).
  EXPECT_NEAR(r.inv_freq_for(24)[1], std::pow(10000.0 * std::pow(2.0, 4.0 / 3.0), -0.25), 1e-7);
}

TEST(Rope, YarnRampBetweenInterpolationAndExtrapolation) {
  // original 64: correction dims -0.497 (beta_fast 32) and 1.008 (beta_slow 1), truncated to
  // [0, 2]: ramp 0, 0.5, 1, 1 -> pair 0 kept, pair 1 half/half, pairs 2-3 divided by factor 4.
  Json j = {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}, {"original_max_position_embeddings", 64}};
  nn::RotaryEmbedding r(rope(j), 8, 256);
  expect_freqs(r.inv_freq(), {1, 0.5 * 0.1 + 0.5 * 0.025, 0.0025, 0.00025});
  EXPECT_NEAR(r.attention_scaling(), 0.1 * std::log(4.0) + 1, 1e-6);  // 1.1386
  // truncate false: range [0, 1.008]: ramp at pair 1 is 1 / 1.008 = 0.99206.
  j["truncate"] = false;
  nn::RotaryEmbedding untruncated(rope(j), 8, 256);
  expect_freqs(untruncated.inv_freq(), {1, 0.02559524589192421, 0.0025, 0.00025});
  // mscale / mscale_all_dim (DeepSeek): the ratio of the two mscales; equal -> 1.
  j["mscale"] = 1.0;
  j["mscale_all_dim"] = 1.0;
  EXPECT_NEAR(nn::RotaryEmbedding(rope(j), 8, 256).attention_scaling(), 1.0, 1e-6);
  j["attention_factor"] = 0.7;
  EXPECT_NEAR(nn::RotaryEmbedding(rope(j), 8, 256).attention_scaling(), 0.7, 1e-6);
  // factor absent: max_position_embeddings / original = 256 / 64.
  Json no_factor = {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"original_max_position_embeddings", 64}};
  expect_freqs(nn::RotaryEmbedding(rope(no_factor), 8, 256).inv_freq(), {1, 0.0625, 0.0025, 0.00025});
}

TEST(Rope, LongropeSwitchesFactorsPastTheOriginalLength) {
  Json j = {{"rope_type", "longrope"},
            {"rope_theta", 10000.0},
            {"short_factor", {1.0, 2.0, 3.0, 4.0}},
            {"long_factor", {5.0, 6.0, 7.0, 8.0}},
            {"original_max_position_embeddings", 16}};
  nn::RotaryEmbedding r(rope(j), 8, 64);
  expect_freqs(r.inv_freq_for(16), {1, 0.1 / 2, 0.01 / 3, 0.001 / 4});
  expect_freqs(r.inv_freq_for(17), {1.0 / 5, 0.1 / 6, 0.01 / 7, 0.001 / 8});
  // factor = 64 / 16 = 4: sqrt(1 + ln 4 / ln 16) = sqrt(1.5).
  EXPECT_NEAR(r.attention_scaling(), std::sqrt(1.5), 1e-6);
  // cos/sin: the long factors apply to every position of a sequence longer than 16.
  Tensor pos = Tensor::from_values(std::vector<int64_t>{3, 16}, {1, 2});
  auto [cos, sin] = r.cos_sin(pos);
  EXPECT_NEAR(cos.data<float>()[0], std::sqrt(1.5) * std::cos(3.0 / 5), 1e-5);
  EXPECT_NEAR(sin.data<float>()[8 + 1], std::sqrt(1.5) * std::sin(16 * 0.1 / 6), 1e-5);
  Tensor short_pos = Tensor::from_values(std::vector<int64_t>{3}, {1, 1});
  EXPECT_NEAR(r.cos_sin(short_pos).first.data<float>()[0], std::sqrt(1.5) * std::cos(3.0), 1e-5);
}

TEST(Rope, Llama3SmoothsTheMiddleBand) {
  // wavelengths 6.28, 62.8, 628, 6283 against original 64 / low 1 / high 4: pair 0 short
  // (kept), pair 1 medium (smooth = (64 / 62.83 - 1) / 3), pairs 2-3 long (divided by 8).
  Json j = {{"rope_type", "llama3"}, {"rope_theta", 10000.0}, {"factor", 8.0}, {"low_freq_factor", 1.0},
            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  nn::RotaryEmbedding r(rope(j), 8, 1024);
  expect_freqs(r.inv_freq(), {1, 0.013042256043820465, 0.00125, 0.000125});
}

TEST(Rope, ProportionalRotatesAFractionWithFullHeadDimExponents) {
  // Gemma 4: head_dim 8, partial 0.5 -> 2 rotated pairs with exponents over 8, 2 at frequency 0.
  Json j = {{"rope_type", "proportional"}, {"rope_theta", 10000.0}, {"partial_rotary_factor", 0.5}};
  nn::RotaryEmbedding r(rope(j), 8, 64);
  EXPECT_EQ(r.rotary_dim(), 8);
  expect_freqs(r.inv_freq(), {1, 0.1, 0, 0});
  j["factor"] = 2.0;
  expect_freqs(nn::RotaryEmbedding(rope(j), 8, 64).inv_freq(), {0.5, 0.05, 0, 0});
}

TEST(Rope, UnknownTypeAndMissingKeysAreConfigErrors) {
  try {
    nn::RotaryEmbedding(rope({{"rope_type", "su"}, {"rope_theta", 10000.0}}), 8, 64);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'su'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(nn::RotaryEmbedding(rope({{"rope_type", "linear"}}), 8, 64), ConfigError);  // no factor
  EXPECT_THROW(nn::RotaryEmbedding(rope({{"rope_type", "dynamic"}}), 8, 64), ConfigError);
  EXPECT_THROW(nn::RotaryEmbedding(rope({{"rope_type", "longrope"}, {"short_factor", {1.0}}, {"long_factor", {1.0}}}), 8, 64),
               ConfigError);  // 1 factor for 4 pairs
}

}  // namespace
}  // namespace transformers
