// ContinuousBatchingManager and generate_batch against generate() run on each prompt alone (the
// reference: v5's semantics, already checked against golden outputs), plus the request life
// cycle: streaming outputs, cancellation, capacity, bad requests.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "tiny.h"
#include "transformers/generation/continuous_batching.h"
#include "transformers/generation/generate.h"

namespace transformers {
namespace {

using namespace std::chrono_literals;
using testing::ids_tensor;
using testing::random_rows;
using testing::tiny_model;

// The tokens generate() adds to `prompt` alone.
std::vector<int64_t> alone(const CausalLM& m, const std::vector<int64_t>& prompt, const GenerationConfig& g,
                           std::optional<uint64_t> seed = {}) {
  std::vector<int64_t> seq = generate(m, ids_tensor({prompt}), g, {.seed = seed}).sequences[0];
  return {seq.begin() + static_cast<std::ptrdiff_t>(prompt.size()), seq.end()};
}

// Prompts of lengths 1..n (different lengths: prefill and decode steps mix).
std::vector<std::vector<int64_t>> ragged_prompts(int64_t n, int64_t vocab) {
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i = 1; i <= n; ++i) prompts.push_back(random_rows(1, i, vocab, static_cast<uint32_t>(100 + i))[0]);
  return prompts;
}

// Reads a request to its end; returns its tokens and its last output.
std::pair<std::vector<int64_t>, RequestOutput> read_all(ContinuousBatchingManager& m, const std::string& id) {
  std::vector<int64_t> tokens;
  while (true) {
    std::optional<RequestOutput> r = m.get_result(id, 10s);
    if (!r) ADD_FAILURE() << id << ": no output within the wait";
    if (!r) return {tokens, {}};
    tokens.insert(tokens.end(), r->new_tokens.begin(), r->new_tokens.end());
    if (r->finished) return {tokens, *r};
  }
}

TEST(ContinuousBatching, GenerateBatchEqualsEachPromptAloneGreedy) {
  auto m = tiny_model();
  GenerationConfig g;
  g.max_new_tokens = 7;
  const auto prompts = ragged_prompts(9, 97);
  const auto batched = generate_batch(*m, prompts, g, {.max_running = 4});
  ASSERT_EQ(batched.size(), prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(batched[i], alone(*m, prompts[i], g)) << "prompt " << i;
}

TEST(ContinuousBatching, SeededSamplingEqualsGenerateWithTheSameSeed) {
  auto m = tiny_model();
  ContinuousBatchingManager manager(*m);
  GenerationConfig g;
  g.max_new_tokens = 8;
  g.do_sample = true;
  g.temperature = 1.3;
  g.top_k = 20;
  const auto prompts = ragged_prompts(5, 97);
  std::vector<std::string> ids;
  for (size_t i = 0; i < prompts.size(); ++i)
    ids.push_back(manager.add_request(prompts[i], {.config = g, .seed = 1000 + i}));
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(read_all(manager, ids[i]).first, alone(*m, prompts[i], g, 1000 + i)) << "prompt " << i;
}

TEST(ContinuousBatching, EosEndsARequestWithReasonStopAndLengthOtherwise) {
  auto m = tiny_model();
  GenerationConfig g;
  g.max_new_tokens = 6;
  const std::vector<int64_t> prompt = random_rows(1, 4, 97, 7)[0];
  const std::vector<int64_t> free_run = alone(*m, prompt, g);
  ContinuousBatchingManager manager(*m);
  auto [tokens, last] = read_all(manager, manager.add_request(prompt, {.config = g}));
  EXPECT_EQ(tokens, free_run);
  EXPECT_EQ(last.finish_reason, "length");
  EXPECT_EQ(last.prompt_tokens, 4);
  EXPECT_EQ(last.generated_tokens, 6);

  GenerationConfig with_eos = g;
  with_eos.eos_token_ids = {free_run[2]};  // the third token generated
  const auto [stopped, end] = read_all(manager, manager.add_request(prompt, {.config = with_eos}));
  const std::vector<int64_t> expected(free_run.begin(), free_run.begin() + 3);
  EXPECT_EQ(stopped, expected);
  EXPECT_EQ(end.finish_reason, "stop");
}

TEST(ContinuousBatching, LogprobsAreTheLogSoftmaxOfTheScores) {
  auto m = tiny_model();
  GenerationConfig g;
  g.max_new_tokens = 1;
  const std::vector<int64_t> prompt = random_rows(1, 5, 97, 3)[0];
  ContinuousBatchingManager manager(*m);
  const std::string id = manager.add_request(prompt, {.config = g, .top_logprobs = 3});
  std::optional<RequestOutput> r = manager.get_result(id, 10s);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->logprobs.size(), 1u);
  // Reference: log-softmax of the model's last logits computed here in double.
  const Tensor logits = m->forward(ids_tensor({prompt})).logits;
  const int64_t V = logits.size(2);
  const float* last = logits.data<float>() + (logits.size(1) - 1) * V;
  double z = 0.0;
  for (int64_t v = 0; v < V; ++v) z += std::exp(static_cast<double>(last[v]));
  const TokenLogprob& lp = r->logprobs[0];
  EXPECT_NEAR(lp.logprob, last[lp.token] - std::log(z), 1e-4);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, lp.token);  // greedy picks the most likely
  EXPECT_GE(lp.top[0].second, lp.top[1].second);
  EXPECT_GE(lp.top[1].second, lp.top[2].second);
}

// A request that would run for thousands of steps: still running whatever the machine's load
// when the test acts on it.
std::unique_ptr<CausalLM> long_context_model() { return tiny_model(97, 11, {{"max_position_embeddings", 8192}}); }

TEST(ContinuousBatching, CancelEndsARunningRequestAndLeavesOthersIntact) {
  auto m = long_context_model();
  GenerationConfig g;
  g.max_new_tokens = 4000;
  const auto prompts = ragged_prompts(3, 97);
  ContinuousBatchingManager manager(*m);
  const std::string keep = manager.add_request(prompts[0], {.config = g});
  const std::string drop = manager.add_request(prompts[1], {.config = g});
  ASSERT_TRUE(manager.get_result(drop, 10s));  // it runs
  manager.cancel_request(drop);
  auto [dropped, end] = read_all(manager, drop);
  EXPECT_EQ(end.finish_reason, "cancelled");
  EXPECT_LT(end.generated_tokens, 4000);
  manager.cancel_request(keep);
  GenerationConfig short_run = g;
  short_run.max_new_tokens = 6;
  const std::string other = manager.add_request(prompts[2], {.config = short_run});
  EXPECT_EQ(read_all(manager, other).first, alone(*m, prompts[2], short_run));
  EXPECT_EQ(read_all(manager, keep).second.finish_reason, "cancelled");
  EXPECT_THROW(manager.get_result(drop, 0ms), ValueError);  // forgotten after its last output
  manager.cancel_request("no-such-request");                 // ignored
}

TEST(ContinuousBatching, AFullQueueIsACapacityErrorAndBadRequestsAreValueErrors) {
  auto m = long_context_model();
  GenerationConfig g;
  g.max_new_tokens = 4000;
  ContinuousBatchingManager manager(*m, {.max_running = 1, .max_queued = 1});
  const auto prompts = ragged_prompts(3, 97);
  const std::string first = manager.add_request(prompts[0], {.config = g});
  ASSERT_TRUE(manager.get_result(first, 10s));  // running: the queue is empty again
  manager.add_request(prompts[1], {.config = g}, "second");
  EXPECT_THROW(manager.add_request(prompts[2], {.config = g}), CapacityError);
  EXPECT_THROW(manager.add_request(prompts[2], {.config = g}, "second"), ValueError);  // duplicate id
  EXPECT_THROW(manager.add_request({}, {.config = g}), ValueError);
  EXPECT_THROW(manager.add_request({5, 97}, {.config = g}), ValueError);  // outside the vocabulary
  GenerationConfig beams = g;
  beams.num_beams = 2;
  EXPECT_THROW(manager.add_request({5}, {.config = beams}), ValueError);
  EXPECT_THROW(manager.get_result("unknown", 0ms), ValueError);
}

TEST(ContinuousBatching, RequestsFromManyThreadsAllFinishWithTheirOwnTokens) {
  auto m = tiny_model();
  GenerationConfig g;
  g.max_new_tokens = 5;
  const auto prompts = ragged_prompts(8, 97);
  ContinuousBatchingManager manager(*m, {.max_running = 3});
  std::vector<std::vector<int64_t>> got(prompts.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < prompts.size(); ++i)
    clients.emplace_back([&, i] { got[i] = read_all(manager, manager.add_request(prompts[i], {.config = g})).first; });
  for (auto& t : clients) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(got[i], alone(*m, prompts[i], g)) << "prompt " << i;
  EXPECT_EQ(manager.stats().generated_tokens, 8 * 5);
}

TEST(ContinuousBatching, DestroyingTheManagerEndsUnfinishedRequests) {
  auto m = tiny_model();
  GenerationConfig g;
  g.max_new_tokens = 50;
  auto manager = std::make_unique<ContinuousBatchingManager>(*m, ContinuousBatchingOptions{.max_running = 1});
  for (int i = 0; i < 4; ++i) manager->add_request({1, 2, 3}, {.config = g});
  manager.reset();  // joins the engine thread; nothing leaks (ASan)
}

}  // namespace
}  // namespace transformers
