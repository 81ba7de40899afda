// generate() end to end on tiny random models: seeded sampling, left padding, static vs dynamic
// cache, eos/pad handling, output fields, config errors.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"
#include "tiny.h"
#include "transformers/generation/generate.h"

namespace transformers {
namespace {

using testing::ids_tensor;
using testing::random_rows;
using testing::tiny_model;

GenerationConfig base_config(int64_t new_tokens) {
  GenerationConfig g;
  g.max_new_tokens = new_tokens;
  return g;
}

// Greedy, independently: full re-forward and argmax at every step.
std::vector<int64_t> reference_greedy(const CausalLM& m, std::vector<int64_t> row, int64_t steps) {
  for (int64_t s = 0; s < steps; ++s) {
    Tensor logits = m.forward(ids_tensor({row})).logits;
    const int64_t V = logits.size(2), T = logits.size(1);
    const float* last = logits.data<float>() + (T - 1) * V;
    row.push_back(std::max_element(last, last + V) - last);
  }
  return row;
}

TEST(Generate, GreedyEqualsAnIndependentArgmaxLoop) {
  auto m = tiny_model();
  auto rows = random_rows(2, 5, 97, 1);
  GenerateOutput out = generate(*m, ids_tensor(rows), base_config(6));
  for (size_t r = 0; r < rows.size(); ++r) EXPECT_EQ(out.sequences[r], reference_greedy(*m, rows[r], 6));
  EXPECT_FALSE(out.is_beam_output());
  ASSERT_NE(out.past_key_values, nullptr);
  EXPECT_EQ(out.past_key_values->seq_length(), 5 + 6 - 1);  // the last token is never fed
}

TEST(Generate, SamplingIsReproducibleWithASeed) {
  auto m = tiny_model();
  GenerationConfig g = base_config(10);
  g.do_sample = true;
  g.top_k = 0;
  g.temperature = 1.5;  // flat enough that different seeds diverge
  Tensor ids = ids_tensor(random_rows(2, 4, 97, 2));
  auto a = generate(*m, ids, g, {.seed = 42}).sequences;
  auto b = generate(*m, ids, g, {.seed = 42}).sequences;
  auto c = generate(*m, ids, g, {.seed = 43}).sequences;
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // The cache does not change what is sampled.
  EXPECT_EQ(a, generate(*m, ids, g, {.use_cache = false, .seed = 42}).sequences);
}

TEST(Generate, PrefixAllowedTokensConstrainEachBatchItem) {
  // Item 0 may only use even tokens, item 1 only tokens 10..12; with beams and with sampling the
  // function gets the batch item, not the expanded row.
  auto m = tiny_model();
  Tensor ids = ids_tensor(random_rows(2, 4, 97, 6));
  GenerateOptions o;
  o.seed = 3;
  o.prefix_allowed_tokens_fn = [](int64_t batch_id, std::span<const int64_t> seq) {
    std::vector<int64_t> allowed;
    if (batch_id == 0)
      for (int64_t t = 0; t < 97; t += 2) allowed.push_back(t);
    else
      allowed = {10, 11, 12};
    EXPECT_GE(seq.size(), 4u);
    return allowed;
  };
  for (int mode = 0; mode < 3; ++mode) {
    GenerationConfig g = base_config(6);
    if (mode == 1) g.num_beams = 3, g.num_return_sequences = 2;
    if (mode == 2) g.do_sample = true, g.num_return_sequences = 2;
    auto out = generate(*m, ids, g, o).sequences;
    const size_t per_item = mode == 0 ? 1 : 2;
    for (size_t r = 0; r < out.size(); ++r)
      for (size_t i = 4; i < out[r].size(); ++i) {
        if (r / per_item == 0) {
          EXPECT_EQ(out[r][i] % 2, 0) << "mode " << mode;
        } else {
          EXPECT_TRUE(out[r][i] >= 10 && out[r][i] <= 12) << "mode " << mode;
        }
      }
  }
}

TEST(Generate, SamplingWithOneCandidateIsGreedy) {
  // top_k = 1 (or a min_p of 1) leaves one token: sampling must pick it whatever the seed.
  auto m = tiny_model();
  Tensor ids = ids_tensor(random_rows(2, 5, 97, 6));
  auto greedy = generate(*m, ids, base_config(8)).sequences;
  for (uint64_t seed : {1u, 2u, 3u}) {
    GenerationConfig k1 = base_config(8);
    k1.do_sample = true;
    k1.top_k = 1;
    k1.temperature = 2.0;
    EXPECT_EQ(generate(*m, ids, k1, {.seed = seed}).sequences, greedy);
    GenerationConfig p1 = base_config(8);
    p1.do_sample = true;
    p1.top_k = 0;
    p1.min_p = 1.0;
    EXPECT_EQ(generate(*m, ids, p1, {.seed = seed}).sequences, greedy);
  }
}

TEST(Generate, SamplingFollowsTheModelDistribution) {
  // One step from a fixed prompt, many seeds: token frequencies approach softmax(logits).
  auto m = tiny_model(8, 3);
  auto row = random_rows(1, 3, 8, 5)[0];
  Tensor logits = m->forward(ids_tensor({row})).logits;
  std::vector<double> p(8);
  double z = 0;
  for (int v = 0; v < 8; ++v) z += (p[v] = std::exp(logits.data<float>()[2 * 8 + v]));
  GenerationConfig g = base_config(1);
  g.do_sample = true;
  g.top_k = 0;
  std::vector<int> count(8, 0);
  const int n = 4000;
  // num_return_sequences expands the row: one generate call draws n samples.
  g.num_return_sequences = n;
  auto out = generate(*m, ids_tensor({row}), g, {.use_cache = false, .seed = 7});
  ASSERT_EQ(out.sequences.size(), static_cast<size_t>(n));
  for (const auto& s : out.sequences) ++count[s.back()];
  for (int v = 0; v < 8; ++v) EXPECT_NEAR(count[v] / double(n), p[v] / z, 0.03) << "token " << v;
}

TEST(Generate, LeftPaddedBatchEqualsEachSequenceAlone) {
  auto m = tiny_model();
  const int64_t pad = 0;
  std::vector<std::vector<int64_t>> prompts = {{5, 17, 3, 9, 22, 41}, {8, 30}, {61, 2, 2, 70}};
  const size_t L = 6;
  std::vector<std::vector<int64_t>> padded, mask;
  for (const auto& p : prompts) {
    std::vector<int64_t> row(L - p.size(), pad), m(L - p.size(), 0);
    row.insert(row.end(), p.begin(), p.end());
    m.resize(L, 1);
    padded.push_back(row);
    mask.push_back(m);
  }
  Tensor mask_t = ids_tensor(mask);
  for (bool use_cache : {true, false}) {
    GenerateOutput batch = generate(*m, ids_tensor(padded), base_config(7), {.use_cache = use_cache, .attention_mask = &mask_t});
    for (size_t r = 0; r < prompts.size(); ++r) {
      GenerateOutput alone = generate(*m, ids_tensor({prompts[r]}), base_config(7));
      std::vector<int64_t> got(batch.sequences[r].begin() + (L - prompts[r].size()), batch.sequences[r].end());
      EXPECT_EQ(got, alone.sequences[0]) << "row " << r << (use_cache ? " with" : " without") << " cache";
    }
  }
  // Without the mask the padding is attended to and shifts positions: the result differs
  // (the mask is really used).
  GenerateOutput unmasked = generate(*m, ids_tensor(padded), base_config(7));
  EXPECT_NE(std::vector<int64_t>(unmasked.sequences[1].begin() + 4, unmasked.sequences[1].end()),
            generate(*m, ids_tensor({prompts[1]}), base_config(7)).sequences[0]);
  // The mask is inferred from pad_token_id when none is given (pad differs from eos).
  GenerationConfig g = base_config(7);
  g.pad_token_id = pad;
  GenerateOutput inferred = generate(*m, ids_tensor(padded), g);
  EXPECT_EQ(inferred.sequences, generate(*m, ids_tensor(padded), base_config(7), {.attention_mask = &mask_t}).sequences);
}

TEST(Generate, LeftPaddedLogitsEqualUnpadded) {
  // Step logits of a padded row equal those of the row alone (to float rounding).
  auto m = tiny_model();
  std::vector<int64_t> p = {4, 8, 15};
  Tensor mask = ids_tensor({{0, 0, 1, 1, 1}});
  GenerationConfig g = base_config(4);
  g.output_logits = true;
  auto padded = generate(*m, ids_tensor({{0, 0, 4, 8, 15}}), g, {.attention_mask = &mask});
  auto alone = generate(*m, ids_tensor({p}), g);
  ASSERT_EQ(padded.logits.size(), 4u);
  for (size_t s = 0; s < 4; ++s) EXPECT_LE(testing::max_abs_diff(padded.logits[s], alone.logits[s]), 1e-4f) << s;
}

TEST(Generate, StaticCacheEqualsDynamicCache) {
  for (const Json& overrides : {Json::object(), Json{{"sliding_window", 4}, {"layer_types", {"sliding_attention", "full_attention"}}}}) {
    auto m = tiny_model(97, 5, overrides);
    Tensor ids = ids_tensor(random_rows(2, 6, 97, 3));
    GenerationConfig g = base_config(9);
    g.output_logits = true;
    GenerateOutput dyn = generate(*m, ids, g);
    g.cache_implementation = "static";
    GenerateOutput st = generate(*m, ids, g);
    EXPECT_EQ(dyn.sequences, st.sequences) << overrides.dump();
    for (size_t s = 0; s < dyn.logits.size(); ++s) EXPECT_LE(testing::max_abs_diff(dyn.logits[s], st.logits[s]), 1e-5f);
    ASSERT_TRUE(st.past_key_values->is_static());
    // Preallocated for max_length = 6 + 9 tokens on the full-attention layer.
    const size_t full = overrides.empty() ? 0 : 1;
    EXPECT_EQ(st.past_key_values->layer(full).capacity(), 15);
    EXPECT_FALSE(dyn.past_key_values->is_static());
  }
}

TEST(Generate, EosStopsARowAndPadsIt) {
  auto m = tiny_model();
  auto rows = random_rows(2, 4, 97, 8);
  GenerateOutput free_run = generate(*m, ids_tensor(rows), base_config(8));
  // Take row 0's third generated token as eos: row 0 stops at its first occurrence.
  const int64_t eos = free_run.sequences[0][4 + 2];
  size_t stop = 4;
  while (free_run.sequences[0][stop] != eos) ++stop;
  GenerationConfig g = base_config(8);
  g.eos_token_ids = {eos, 1000};
  g.pad_token_id = 96;
  GenerateOutput out = generate(*m, ids_tensor(rows), g);
  const auto& r0 = out.sequences[0];
  // Up to and including the eos the row is the free run; after it, pad.
  EXPECT_TRUE(std::equal(free_run.sequences[0].begin(), free_run.sequences[0].begin() + stop + 1, r0.begin()));
  for (size_t i = stop + 1; i < r0.size(); ++i) EXPECT_EQ(r0[i], 96) << i;
  // Row 1 runs on unchanged until its own eos (or the end).
  const auto& r1 = out.sequences[1];
  bool done = false;
  size_t stop1 = 0;
  for (size_t i = 4; i < r1.size(); ++i) {
    if (done) {
      EXPECT_EQ(r1[i], 96) << i;
    } else {
      EXPECT_EQ(r1[i], free_run.sequences[1][i]) << i;
      if (r1[i] == eos) done = true, stop1 = i;
    }
  }
  // The loop ends when every row has stopped.
  EXPECT_EQ(r0.size(), done ? std::max(stop, stop1) + 1 : 12u);
}

TEST(Generate, MinNewTokensDelaysEos) {
  auto m = tiny_model();
  auto rows = random_rows(1, 4, 97, 8);
  GenerateOutput free_run = generate(*m, ids_tensor(rows), base_config(6));
  GenerationConfig g = base_config(6);
  g.eos_token_ids = {free_run.sequences[0][4]};  // the first generated token
  g.min_new_tokens = 3;
  GenerateOutput out = generate(*m, ids_tensor(rows), g);
  EXPECT_NE(out.sequences[0][4], g.eos_token_ids[0]);
  EXPECT_GE(out.sequences[0].size(), 7u);
}

TEST(Generate, OutputsHaveOneEntryPerStep) {
  auto m = tiny_model();
  GenerationConfig g = base_config(3);
  g.output_scores = g.output_logits = g.output_hidden_states = true;
  g.repetition_penalty = 1.3;
  auto out = generate(*m, ids_tensor(random_rows(2, 4, 97, 4)), g);
  ASSERT_EQ(out.scores.size(), 3u);
  ASSERT_EQ(out.logits.size(), 3u);
  ASSERT_EQ(out.hidden_states.size(), 3u);
  EXPECT_EQ(out.hidden_states[0].size(), 3u);               // embeddings + 2 layers (last normed)
  EXPECT_EQ(out.hidden_states[0][0].size(1), 4);            // the prompt at the first step
  EXPECT_EQ(out.hidden_states[1][0].size(1), 1);            // one token after
  EXPECT_GT(testing::max_abs_diff(out.scores[1], out.logits[1]), 0.0f);  // the penalty changed them
  g.output_attentions = true;
  auto with_attn = generate(*m, ids_tensor(random_rows(2, 4, 97, 4)), g);
  ASSERT_EQ(with_attn.attentions.size(), 3u);                // one entry per step
  ASSERT_EQ(with_attn.attentions[0].size(), 2u);             // one per layer
  EXPECT_EQ(with_attn.attentions[0][0].size(2), 4);          // the prompt's queries at step 1
  EXPECT_EQ(with_attn.attentions[1][0].size(2), 1);          // one query after
  EXPECT_EQ(with_attn.attentions[2][0].size(3), 6);          // over every cached key
  EXPECT_EQ(with_attn.sequences, out.sequences);             // asking for them changes nothing
}

TEST(Generate, ContradictoryConfigsRaiseNamingTheField) {
  auto m = tiny_model();
  Tensor ids = ids_tensor(random_rows(1, 4, 97, 4));
  auto expect_error = [&](GenerationConfig g, const std::string& field) {
    try {
      generate(*m, ids, g);
      ADD_FAILURE() << "no error for " << field;
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  GenerationConfig g = base_config(3);
  g.num_return_sequences = 2;  // greedy cannot return two different sequences
  expect_error(g, "num_return_sequences");
  g.num_beams = 3;
  g.num_return_sequences = 4;
  expect_error(g, "num_return_sequences");
  GenerationConfig t = base_config(3);
  t.do_sample = true;
  t.temperature = 0;
  expect_error(t, "temperature");
  GenerationConfig p = base_config(3);
  p.do_sample = true;
  p.top_p = 1.5;
  expect_error(p, "top_p");
  GenerationConfig z = base_config(3);
  z.max_new_tokens = 0;
  expect_error(z, "max_new_tokens");
  GenerationConfig c = base_config(3);
  c.cache_implementation = "paged_nonsense";
  expect_error(c, "cache_implementation");
  GenerationConfig ml;  // no max_new_tokens and max_length (4) not above the prompt (4)
  ml.max_length = 4;
  expect_error(ml, "max_length");
  GenerationConfig s = base_config(3);
  s.stop_strings = {"."};  // no decoder given
  expect_error(s, "stop_strings");
  // A prompt longer than max_position_embeddings (64) with default rope.
  try {
    generate(*m, ids_tensor(random_rows(1, 70, 97, 4)), base_config(2));
    ADD_FAILURE() << "no error for a long prompt";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("max_position_embeddings"), std::string::npos) << e.what();
  }
  // With rope scaling the same prompt is accepted.
  auto scaled = tiny_model(97, 11, {{"rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}}}});
  EXPECT_NO_THROW(generate(*scaled, ids_tensor(random_rows(1, 70, 97, 4)), base_config(2)));
}

TEST(Generate, LearnedPositionsRunningOutGiveAClearError) {
  // GPT-2 has n_positions learned positions: generating past them is an error, not a crash.
  auto m = make_random_model(PretrainedConfig::from_json({{"model_type", "gpt2"}, {"vocab_size", 50}, {"n_embd", 16},
                                                          {"n_layer", 1}, {"n_head", 2}, {"n_positions", 12}}),
                             1, 0.3);
  EXPECT_NO_THROW(generate(*m, ids_tensor(random_rows(1, 8, 50, 1)), base_config(4)));
  try {
    generate(*m, ids_tensor(random_rows(1, 8, 50, 1)), base_config(6));
    ADD_FAILURE() << "generated past n_positions";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("position"), std::string::npos) << e.what();
  }
}

TEST(Generate, MaxTimeStopsGeneration) {
  auto m = tiny_model();
  GenerationConfig g = base_config(50);
  g.max_time = 1e-9;  // over after the first step
  EXPECT_EQ(generate(*m, ids_tensor(random_rows(2, 4, 97, 4)), g).sequences[0].size(), 5u);
}

TEST(Generate, RightPaddingIsRejected) {
  auto m = tiny_model();
  Tensor mask = ids_tensor({{1, 1, 0}});
  try {
    generate(*m, ids_tensor({{3, 4, 0}}), base_config(2), {.attention_mask = &mask});
    ADD_FAILURE();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("LEFT"), std::string::npos);
  }
  // A mask inferred from pad_token_id is not refused: the prompt may simply end with that id.
  GenerationConfig g = base_config(2);
  g.pad_token_id = 0;
  EXPECT_EQ(generate(*m, ids_tensor({{3, 4, 0}}), g).sequences[0].size(), 5u);
}

TEST(GenerationConfigJson, ReadsV5Fields) {
  Json j = {{"max_new_tokens", 5}, {"eos_token_id", {1, 2}}, {"early_stopping", "never"}, {"stop_strings", "\n"},
            {"sequence_bias", {{{1, 2}, -1.5}}}, {"bad_words_ids", {{3}, {4, 5}}}, {"forced_eos_token_id", 7},
            {"exponential_decay_length_penalty", {3, 1.1}}, {"cache_implementation", "static"}, {"typical_p", 0.9}};
  GenerationConfig g = GenerationConfig::from_json(j);
  EXPECT_EQ(*g.max_new_tokens, 5);
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(g.early_stopping, EarlyStopping::Never);
  EXPECT_EQ(g.stop_strings, (std::vector<std::string>{"\n"}));
  ASSERT_EQ(g.sequence_bias.size(), 1u);
  EXPECT_EQ(g.sequence_bias[0].first, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(g.sequence_bias[0].second, -1.5);
  EXPECT_EQ(g.bad_words_ids.size(), 2u);
  EXPECT_EQ(g.forced_eos_token_ids, (std::vector<int64_t>{7}));
  EXPECT_EQ(g.exponential_decay_length_penalty->first, 3);
  EXPECT_EQ(*g.cache_implementation, "static");
  EXPECT_EQ(g.typical_p, 0.9);
  EXPECT_THROW(GenerationConfig::from_json({{"early_stopping", "sometimes"}}), ConfigError);
}

TEST(GenerationConfigJson, ToJsonKeepsTheFileAndWritesChanges) {
  Json file = {{"bos_token_id", 1}, {"eos_token_id", 2}, {"transformers_version", "4.49.0"}, {"do_sample", true}};
  GenerationConfig g = GenerationConfig::from_json(file);
  EXPECT_EQ(g.to_json(), file);  // unchanged: the file as read, unknown keys included
  g.eos_token_ids = {2, 7};
  g.max_new_tokens = 12;
  g.early_stopping = EarlyStopping::Never;
  g.sequence_bias = {{{4, 5}, -1.0}};
  g.do_sample = false;
  Json out = g.to_json();
  EXPECT_EQ(out["transformers_version"], "4.49.0");
  EXPECT_EQ(out["eos_token_id"], Json::array({2, 7}));
  EXPECT_EQ(out["max_new_tokens"], 12);
  EXPECT_EQ(out["early_stopping"], "never");
  EXPECT_EQ(out["do_sample"], false);
  // Reading it back gives the same config.
  GenerationConfig back = GenerationConfig::from_json(out);
  EXPECT_EQ(back.eos_token_ids, g.eos_token_ids);
  EXPECT_EQ(back.sequence_bias, g.sequence_bias);
  EXPECT_EQ(back.early_stopping, EarlyStopping::Never);
  EXPECT_EQ(back.to_json(), out);
}

}  // namespace
}  // namespace transformers
