// Hostile generation settings: sizes past the limits refused before anything is allocated,
// malformed generation_config.json values naming the key, token ids outside the vocabulary, and
// NaN/inf scores stopping every strategy with an error naming the step.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"
#include "tiny.h"
#include "transformers/generation/generate.h"

namespace transformers {
namespace {

using testing::ids_tensor;
using testing::tiny_model;

template <typename E>
void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const E& e) {
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

void expect_json_error(const Json& j, const std::vector<std::string>& needles) {
  SCOPED_TRACE(j.dump());
  expect_error<ConfigError>([&] { GenerationConfig::from_json(j, "generation_config.json"); }, needles);
}

TEST(GenerationHardening, MalformedValuesNameTheFileAndKey) {
  const std::string file = "generation_config.json: key ";
  expect_json_error({{"eos_token_id", "2"}}, {file + "'eos_token_id'"});
  expect_json_error({{"eos_token_id", {"a", "b"}}}, {file + "'eos_token_id'"});
  expect_json_error({{"forced_eos_token_id", {1.5}}}, {file + "'forced_eos_token_id'"});
  expect_json_error({{"exponential_decay_length_penalty", {"a", 1.0}}}, {file + "'exponential_decay_length_penalty'"});
  expect_json_error({{"exponential_decay_length_penalty", {1, "b"}}}, {file + "'exponential_decay_length_penalty'"});
  expect_json_error({{"exponential_decay_length_penalty", {2.5, 1.0}}}, {file + "'exponential_decay_length_penalty'"});
  expect_json_error({{"exponential_decay_length_penalty", 3}}, {file + "'exponential_decay_length_penalty'"});
  expect_json_error({{"sequence_bias", {{{"x"}, 1.0}}}}, {file + "'sequence_bias'"});
  expect_json_error({{"bad_words_ids", {{1}, {"x"}}}}, {file + "'bad_words_ids'"});
  expect_json_error({{"bad_words_ids", {1, 2}}}, {file + "'bad_words_ids'"});
  expect_json_error({{"max_new_tokens", 8.5}}, {file + "'max_new_tokens'", "must be an integer"});
  expect_json_error({{"num_beams", true}}, {file + "'num_beams'"});
  expect_json_error({{"do_sample", 1}}, {file + "'do_sample'"});
}

void expect_invalid(const Json& j, const std::vector<std::string>& needles) {
  SCOPED_TRACE(j.dump());
  expect_error<ValueError>([&] { GenerationConfig::from_json(j).validate(); }, needles);
}

TEST(GenerationHardening, SizesPastTheLimitsAreRefusedNamingTheKeyAndLimit) {
  expect_invalid({{"num_beams", 1000000000}}, {"num_beams is 1000000000", "limit of 1024"});
  expect_invalid({{"num_return_sequences", 100000}, {"do_sample", true}}, {"num_return_sequences is 100000", "limit of 65536"});
  expect_invalid({{"max_new_tokens", 1000000000}}, {"max_new_tokens is 1000000000", "limit of 16777216"});
  expect_invalid({{"max_cache_len", 1000000000000}}, {"max_cache_len is 1000000000000", "limit of 16777216"});
  expect_invalid({{"max_length", INT64_MAX}}, {"max_length is 9223372036854775807", "limit of 16777216"});
  // At the limits themselves the config is valid.
  EXPECT_NO_THROW(GenerationConfig::from_json({{"num_beams", 1024}, {"max_new_tokens", 1 << 24}}).validate());
}

TEST(GenerationHardening, NegativeTokenIdsAreRefusedNamingTheField) {
  expect_invalid({{"forced_eos_token_id", -7}}, {"forced_eos_token_id contains token id -7"});
  expect_invalid({{"forced_bos_token_id", -1}}, {"forced_bos_token_id contains token id -1"});
  expect_invalid({{"eos_token_id", {2, -3}}}, {"eos_token_id contains token id -3"});
  expect_invalid({{"pad_token_id", -1}}, {"pad_token_id contains token id -1"});
  expect_invalid({{"suppress_tokens", {-2}}}, {"suppress_tokens contains token id -2"});
  expect_invalid({{"bad_words_ids", {{4, -9}}}}, {"bad_words_ids contains token id -9"});
  expect_invalid({{"sequence_bias", {{{-5}, 1.0}}}}, {"sequence_bias contains token id -5"});
}

TEST(GenerationHardening, TokenIdsOutsideTheVocabularyAreRefusedByGenerate) {
  auto m = tiny_model(/*vocab=*/97);
  auto run = [&](const Json& j) { generate(*m, ids_tensor({{1, 2, 3}}), GenerationConfig::from_json(j)); };
  expect_error<ValueError>([&] { run({{"max_new_tokens", 2}, {"bad_words_ids", {{5}, {300}}}}); },
                           {"bad_words_ids contains token id 300", "[0, 97)"});
  expect_error<ValueError>([&] { run({{"max_new_tokens", 2}, {"forced_eos_token_id", 97}}); },
                           {"forced_eos_token_id contains token id 97"});
  expect_error<ValueError>([&] { run({{"max_new_tokens", 2}, {"begin_suppress_tokens", {1000}}}); },
                           {"begin_suppress_tokens contains token id 1000"});
  // eos ids only stop rows: one past the vocabulary never matches (v5), unless it is the pad.
  EXPECT_NO_THROW(run({{"max_new_tokens", 2}, {"eos_token_id", {1000}}, {"pad_token_id", 0}}));
  expect_error<ValueError>([&] { run({{"max_new_tokens", 2}, {"eos_token_id", {1000}}}); },
                           {"eos_token_id (the pad token: pad_token_id is unset) contains token id 1000"});
  // The largest id is fine.
  EXPECT_NO_THROW(run({{"max_new_tokens", 2}, {"bad_words_ids", {{96}}}}));
}

TEST(GenerationHardening, StaticCacheLargerThanMemoryIsRefusedBeforeAllocating) {
  auto m = tiny_model();
  GenerationConfig g;
  g.max_new_tokens = kMaxGenerationLength - 8;
  g.num_beams = kMaxBeams;
  g.cache_implementation = "static";
  // 2 layers x 2 x 1024 rows x 2^24 tokens x (2 kv heads x 8) floats = 4 TiB.
  expect_error<ValueError>([&] { generate(*m, ids_tensor({{1, 2, 3}}), g); },
                           {"static cache of 16777211 tokens", "1024 rows", "GiB"});
}

TEST(GenerationHardening, PromptsLongerThanMaxPositionEmbeddingsAreRefused) {
  auto m = tiny_model();  // max_position_embeddings 64, default rope
  std::vector<int64_t> row(65, 3);
  expect_error<ValueError>([&] { generate(*m, ids_tensor({row}), GenerationConfig::from_json({{"max_new_tokens", 1}})); },
                           {"generate: the input has 65 tokens", "max_position_embeddings is 64"});
  EXPECT_NO_THROW(check_sequence_length(m->config(), 64, "forward"));
  expect_error<ValueError>([&] { check_sequence_length(m->config(), 65536, "forward"); }, {"forward: the input has 65536 tokens"});
  // A rope with scaling extends past it.
  auto scaled = tiny_model(97, 11, {{"rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}}}});
  EXPECT_NO_THROW(check_sequence_length(scaled->config(), 65, "forward"));
}

TEST(GenerationHardening, SlidingWindowCacheLayersNeedAWindowOfAtLeastOne) {
  // A window of 0 used to keep -1 tokens and read the shape of an empty cache.
  for (int64_t w : {int64_t{0}, int64_t{-4}}) {
    expect_error<ValueError>([&] { SlidingWindowLayer layer(w); }, {"sliding_window must be >= 1, got " + std::to_string(w)});
    expect_error<ValueError>([&] { Cache::make_static(std::vector<std::optional<int64_t>>{w}, 8); }, {"sliding_window must be >= 1"});
  }
  SlidingWindowLayer one(1);
  Tensor kv = Tensor::zeros({1, 1, 3, 2}, DType::F32);
  EXPECT_EQ(one.update(kv, kv).keys.size(2), 3);  // the current step sees what it was given
  EXPECT_EQ(one.update(kv, kv).keys.size(2), 3);  // and nothing earlier
}

// lm_head rows set to NaN (or inf) make those tokens' logits invalid at every step.
std::unique_ptr<CausalLM> poisoned_model(float value, int64_t rows) {
  auto m = tiny_model();
  auto& lm = dynamic_cast<DecoderForCausalLM&>(*m);
  float* w = lm.lm_head.weight.data<float>();
  const int64_t H = lm.lm_head.weight.size(1);
  for (int64_t i = 0; i < rows * H; ++i) w[i] = value;
  return m;
}

TEST(GenerationHardening, NaNOrInfScoresStopEveryStrategyNamingTheStep) {
  struct Case {
    const char* name;
    Json config;
  };
  const Case cases[] = {{"greedy", {{"max_new_tokens", 3}}},
                        {"sampling", {{"max_new_tokens", 3}, {"do_sample", true}}},
                        {"beams", {{"max_new_tokens", 3}, {"num_beams", 3}}},
                        {"beam sampling", {{"max_new_tokens", 3}, {"num_beams", 2}, {"do_sample", true}}}};
  for (int64_t rows : {int64_t{97}, int64_t{1}}) {  // every logit NaN; only token 0's
    auto m = poisoned_model(NAN, rows);
    for (const auto& c : cases) {
      SCOPED_TRACE(std::string(c.name) + ", NaN rows " + std::to_string(rows));
      expect_error<ValueError>([&] { generate(*m, ids_tensor({{1, 2, 3}}), GenerationConfig::from_json(c.config)); },
                               {"generate: step 0:", "NaN"});
    }
  }
  // A +inf score (from a user processor here, at step 1) is a NaN probability: sampling and beams
  // refuse it, greedy picks the token as torch.argmax does.
  struct InfAtStep1 : LogitsProcessor {
    void apply(std::span<const int64_t> sequence, std::span<float> scores) const override {
      if (sequence.size() == 4) scores[5] = INFINITY;
    }
  };
  GenerateOptions with_inf{.logits_processors = {std::make_shared<InfAtStep1>()}};
  auto clean = tiny_model();
  for (int i : {1, 2, 3}) {
    SCOPED_TRACE(cases[i].name);
    expect_error<ValueError>(
        [&] { generate(*clean, ids_tensor({{1, 2, 3}}), GenerationConfig::from_json(cases[i].config), with_inf); },
        {"generate: step 1:", "hold inf (token 5)"});
  }
  EXPECT_EQ(generate(*clean, ids_tensor({{1, 2, 3}}), GenerationConfig::from_json(cases[0].config), with_inf).sequences[0][4], 5);
  // remove_invalid_values (v5's InfNanRemoveLogitsProcessor) makes the scores valid again.
  Json fixed = cases[1].config;
  fixed["remove_invalid_values"] = true;
  auto nan_one = poisoned_model(NAN, 1);
  EXPECT_NO_THROW(generate(*nan_one, ids_tensor({{1, 2, 3}}), GenerationConfig::from_json(fixed), {.seed = 3}));
}

}  // namespace
}  // namespace transformers
