// ContinuousBatchingManager and generate_batch against generate() run on each prompt alone (the
// reference: v5's semantics, already checked against golden outputs), plus the request life
// cycle: streaming outputs, cancellation, capacity, bad requests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "tiny.h"
#include "transformers/generation/continuous_batching.h"
#include "transformers/generation/generate.h"

namespace transformers {
namespace {

using namespace std::chrono_literals;

// How long a wait may last before the test calls it a hang: a guard, never a speed bound (each
// wait returns as soon as its output exists), generous enough for ASan on a machine busy with
// other work.
constexpr auto kHangGuard = 300s;
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
    std::optional<RequestOutput> r = m.get_result(id, kHangGuard);
    if (!r) ADD_FAILURE() << id << ": no output within the wait";
    if (!r) return {tokens, {}};
    tokens.insert(tokens.end(), r->new_tokens.begin(), r->new_tokens.end());
    if (r->finished) return {tokens, *r};
  }
}

// Sends each prompt from its own thread at once, reads each to its end, and expects the tokens
// generate() gives that prompt alone.
void expect_concurrent_requests_equal_alone(ContinuousBatchingManager& manager, const CausalLM& m,
                                            const std::vector<std::vector<int64_t>>& prompts, const GenerationConfig& g) {
  std::vector<std::vector<int64_t>> got(prompts.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < prompts.size(); ++i)
    clients.emplace_back([&, i] { got[i] = read_all(manager, manager.add_request(prompts[i], {.config = g})).first; });
  for (auto& t : clients) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(got[i], alone(m, prompts[i], g)) << "prompt " << i;
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
  std::optional<RequestOutput> r = manager.get_result(id, kHangGuard);
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
  // The alternatives come most likely first (log-probabilities in descending order).
  EXPECT_TRUE(std::is_sorted(lp.top.begin(), lp.top.end(),
                             [](const auto& a, const auto& b) { return a.second > b.second; }));
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
  ASSERT_TRUE(manager.get_result(drop, kHangGuard));  // it runs
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
  ASSERT_TRUE(manager.get_result(first, kHangGuard));  // running: the queue is empty again
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
  expect_concurrent_requests_equal_alone(manager, *m, prompts, g);
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

// Waits (bounded) until the engine has published stats satisfying `ready` after its latest step;
// returns the last stats seen.
template <typename Ready>
ContinuousBatchingManager::Stats settled_stats(const ContinuousBatchingManager& m, Ready ready) {
  ContinuousBatchingManager::Stats s = m.stats();
  const auto give_up = std::chrono::steady_clock::now() + kHangGuard;
  while (!ready(s) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(5ms);
    s = m.stats();
  }
  return s;
}

// Tiny llama whose positions reach past one 64-token page.
std::unique_ptr<CausalLM> paged_model() { return tiny_model(97, 11, {{"max_position_embeddings", 512}}); }

// Bytes of one KV block of paged_model(): 2 layers x K and V x 2 KV heads x 64 tokens x 8 x 4.
constexpr int64_t kBlockBytes = 2 * 2 * 2 * 64 * 8 * 4;

TEST(ContinuousBatching, ChunkedPrefillEqualsUnchunked) {
  auto m = paged_model();
  GenerationConfig g;
  g.max_new_tokens = 6;
  const std::vector<std::vector<int64_t>> prompts = {random_rows(1, 150, 97, 21)[0], random_rows(1, 37, 97, 22)[0],
                                                     random_rows(1, 5, 97, 23)[0]};
  // 7 tokens per step: the 150-token prompt is prefilled in 22 chunks, next to the others' decode.
  const auto chunked = generate_batch(*m, prompts, g, {.max_batch_tokens = 7});
  const auto whole = generate_batch(*m, prompts, g, {.max_batch_tokens = 512});
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(chunked[i], whole[i]) << "prompt " << i;
    EXPECT_EQ(chunked[i], alone(*m, prompts[i], g)) << "prompt " << i;
  }
}

TEST(ContinuousBatching, SixteenConcurrentRequestsOfDifferentLengthsEqualTheirAloneRunsGreedy) {
  auto m = paged_model();
  GenerationConfig g;
  g.max_new_tokens = 12;
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i = 0; i < 16; ++i) prompts.push_back(random_rows(1, 1 + 9 * i, 97, static_cast<uint32_t>(300 + i))[0]);
  ContinuousBatchingManager manager(*m, {.max_running = 16});
  expect_concurrent_requests_equal_alone(manager, *m, prompts, g);
}

TEST(ContinuousBatching, AFullKVBudgetMakesRequestsWaitAndATooLargeOneErrors) {
  auto m = paged_model();
  GenerationConfig g;
  g.max_new_tokens = 20;
  // 4 blocks: two 60-token prompts (80 tokens with their output: 2 blocks each) at a time at most.
  ContinuousBatchingManager manager(*m, {.max_running = 8, .kv_cache_bytes = 4 * kBlockBytes});
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::string> ids;
  for (uint32_t i = 0; i < 6; ++i) {
    prompts.push_back(random_rows(1, 60, 97, 400 + i)[0]);
    ids.push_back(manager.add_request(prompts.back(), {.config = g}));
  }
  // 300 tokens need 5 blocks: more than the whole budget.
  const std::string huge = manager.add_request(random_rows(1, 300, 97, 99)[0], {.config = g});
  for (size_t i = 0; i < ids.size(); ++i) {
    auto [tokens, last] = read_all(manager, ids[i]);
    EXPECT_EQ(last.finish_reason, "length") << last.error;
    EXPECT_EQ(tokens, alone(*m, prompts[i], g)) << "prompt " << i;
  }
  auto [none, refused] = read_all(manager, huge);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(refused.finish_reason, "error");
  EXPECT_NE(refused.error.find("kv_cache_bytes"), std::string::npos) << refused.error;
  const auto s = settled_stats(manager, [](const auto& st) { return st.running == 0 && st.kv_blocks_used == 0; });
  EXPECT_LE(s.kv_cache_bytes, 4 * kBlockBytes);
  EXPECT_GT(s.preemptions, 0);  // decode growth past a page took blocks from newer sequences
}

TEST(ContinuousBatching, ASequenceOutgrowingTheWholeBudgetAloneEndsWithAnError) {
  auto m = paged_model();
  GenerationConfig g;
  g.max_new_tokens = 100;  // 60 + 100 tokens: a third block, and the budget has two
  const std::vector<int64_t> prompt = random_rows(1, 60, 97, 77)[0];
  GenerationConfig fits = g;
  fits.max_new_tokens = 69;  // the tokens the 128 slots of two blocks allow (the last needs no slot)
  const std::vector<int64_t> want = alone(*m, prompt, fits);
  ContinuousBatchingManager manager(*m, {.kv_cache_bytes = 2 * kBlockBytes});
  auto [tokens, last] = read_all(manager, manager.add_request(prompt, {.config = g}));
  EXPECT_EQ(last.finish_reason, "error");
  EXPECT_NE(last.error.find("kv_cache_bytes"), std::string::npos) << last.error;
  EXPECT_EQ(tokens, want);  // everything up to the budget, unchanged
  EXPECT_EQ(settled_stats(manager, [](const auto& st) { return st.kv_blocks_used == 0; }).kv_blocks_used, 0);
}

TEST(ContinuousBatching, BlocksReturnToThePoolAfterFinishAndCancel) {
  auto m = long_context_model();
  GenerationConfig g;
  g.max_new_tokens = 4000;
  ContinuousBatchingManager manager(*m);
  const std::string id = manager.add_request(random_rows(1, 100, 97, 5)[0], {.config = g});
  ASSERT_TRUE(manager.get_result(id, kHangGuard));
  // 100 prompt tokens and more: two blocks at least while it runs.
  EXPECT_GE(settled_stats(manager, [](const auto& st) { return st.kv_blocks_used >= 2; }).kv_blocks_used, 2);
  manager.cancel_request(id);
  EXPECT_EQ(read_all(manager, id).second.finish_reason, "cancelled");
  auto s = settled_stats(manager, [](const auto& st) { return st.kv_blocks_used == 0; });
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_GE(s.kv_blocks_free, 2);  // kept for reuse
  GenerationConfig few = g;
  few.max_new_tokens = 3;
  read_all(manager, manager.add_request(random_rows(1, 10, 97, 6)[0], {.config = few}));
  s = settled_stats(manager, [](const auto& st) { return st.running == 0 && st.kv_blocks_used == 0; });
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_EQ(s.kv_cache_bytes, s.kv_blocks_free * 2 * 2 * 2 * 64 * 8 * 4);  // no block was allocated anew
}

TEST(ContinuousBatching, ASharedPromptPrefixIsPrefilledOnceAndGivesTheSameTokens) {
  auto m = paged_model();
  GenerationConfig g;
  g.max_new_tokens = 8;
  const std::vector<int64_t> system = random_rows(1, 150, 97, 31)[0];
  std::vector<std::vector<int64_t>> prompts;
  for (uint32_t i = 0; i < 3; ++i) {
    prompts.push_back(system);
    const auto tail = random_rows(1, 5 + i, 97, 40 + i)[0];
    prompts.back().insert(prompts.back().end(), tail.begin(), tail.end());
  }
  std::vector<std::vector<int64_t>> want;
  for (const auto& p : prompts) want.push_back(alone(*m, p, g));
  ContinuousBatchingManager manager(*m);
  // The first request names the prompt's two full blocks (128 tokens); the others find them.
  auto [first, first_end] = read_all(manager, manager.add_request(prompts[0], {.config = g}));
  EXPECT_EQ(first, want[0]);
  EXPECT_EQ(first_end.cached_prompt_tokens, 0);
  for (size_t i = 1; i < prompts.size(); ++i) {
    auto [tokens, end] = read_all(manager, manager.add_request(prompts[i], {.config = g}));
    EXPECT_EQ(tokens, want[i]) << "prompt " << i;
    EXPECT_EQ(end.cached_prompt_tokens, 128) << "prompt " << i;
  }
  const auto s = manager.stats();
  EXPECT_EQ(s.cached_prompt_tokens, 2 * 128);
  EXPECT_EQ(s.prompt_tokens, 3 * 150 + 5 + 6 + 7);

  ContinuousBatchingOptions off;
  off.prefix_caching = false;
  ContinuousBatchingManager without(*m, off);
  auto [tokens, end] = read_all(without, without.add_request(prompts[0], {.config = g}));
  read_all(without, without.add_request(prompts[1], {.config = g}));
  EXPECT_EQ(end.cached_prompt_tokens, 0);
  EXPECT_EQ(without.stats().cached_prompt_tokens, 0);
}

}  // namespace
}  // namespace transformers
