// The manager's engine: every step packs the running sequences' next tokens (a decode token each,
// or a chunk of a prompt still being prefilled) into one ragged forward over a paged KV cache
// (cache/paged_cache.h), so the linear layers run once over all of them. Between steps it admits
// waiting requests, drops finished and cancelled ones (their blocks go back to the pool at once),
// and, when the KV budget is full, preempts the newest running sequence back to the queue (it is
// recomputed from its tokens when readmitted, as vLLM does).
#include "transformers/generation/continuous_batching.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <unistd.h>

#include "transformers/generation/sampling.h"
#include "transformers/ops/ops.h"

namespace transformers {

namespace {

struct Sequence {
  std::string id;
  std::vector<int64_t> ids;  // prompt + generated
  int64_t prompt_tokens = 0;
  GenerationConfig config;   // max_length resolved
  int top_logprobs = -1;
  LogitsProcessorList processors;
  StoppingCriteriaList criteria;
  SamplingRng rng;
  int64_t cache_id = 0;  // its block tables in the paged cache
  int64_t computed = 0;  // tokens of `ids` whose K/V the cache holds
  bool admitted_before = false;
  bool prefix_looked_up = false;
  int64_t cached_prompt_tokens = 0;  // of its prompt, found in the prefix cache
  bool ended = false;  // its last output was sent: leaves `running` after the step

  Sequence(std::string id_, std::vector<int64_t> prompt, GenerationConfig config_, int top, uint64_t seed)
      : id(std::move(id_)), ids(std::move(prompt)), prompt_tokens(static_cast<int64_t>(ids.size())),
        config(std::move(config_)), top_logprobs(top), rng(seed) {}
};

// log_softmax of `scores` at `token`, and the `top` most likely tokens with theirs.
TokenLogprob token_logprob(std::span<const float> scores, int64_t token, int top) {
  const float max = *std::max_element(scores.begin(), scores.end());
  double sum = 0.0;
  for (float s : scores) sum += std::isinf(s) && s < 0 ? 0.0 : std::exp(static_cast<double>(s - max));
  const float log_z = max + static_cast<float>(std::log(sum));
  TokenLogprob out{token, scores[static_cast<size_t>(token)] - log_z, {}};
  if (top > 0) {
    std::vector<int64_t> order(scores.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    const size_t k = std::min(order.size(), static_cast<size_t>(top));
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&](int64_t a, int64_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
    for (size_t i = 0; i < k; ++i) out.top.emplace_back(order[i], scores[static_cast<size_t>(order[i])] - log_z);
  }
  return out;
}

// The default KV budget: a quarter of the machine's memory, at most 4 GiB.
int64_t default_kv_cache_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  const int64_t physical = pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : int64_t{4} << 30;
  return std::min<int64_t>(physical / 4, int64_t{4} << 30);
}

}  // namespace

struct ContinuousBatchingManager::State {
  const CausalLM& model;
  ContinuousBatchingOptions options;
  mutable std::mutex mutex;
  std::condition_variable work;     // the engine waits for requests
  std::condition_variable results;  // readers wait for outputs
  std::deque<std::unique_ptr<Sequence>> queued;
  std::vector<std::unique_ptr<Sequence>> running;  // engine thread only
  int64_t running_count = 0;                       // running.size(), for stats()
  std::set<std::string> cancelled;                 // ids to end at the engine's next step
  std::map<std::string, std::deque<RequestOutput>> outputs;  // every request not yet read to the end
  std::atomic<uint64_t> next_id{0};
  bool stopping = false;
  Stats totals;
  PagedKVCache kv;  // engine thread only
  int64_t next_cache_id = 0;
  std::thread engine;

  State(const CausalLM& m, ContinuousBatchingOptions o)
      : model(m), options(o), kv(m.kv_layout(), o.kv_cache_bytes > 0 ? o.kv_cache_bytes : default_kv_cache_bytes()) {}

  void publish(RequestOutput out) {
    {
      std::lock_guard lock(mutex);
      auto it = outputs.find(out.request_id);
      if (it == outputs.end()) return;
      if (!it->second.empty() && !it->second.back().finished && !out.finished && out.error.empty()) {
        // Merge into the unread output: a slow reader gets fewer, larger outputs.
        RequestOutput& last = it->second.back();
        last.new_tokens.insert(last.new_tokens.end(), out.new_tokens.begin(), out.new_tokens.end());
        last.logprobs.insert(last.logprobs.end(), out.logprobs.begin(), out.logprobs.end());
        last.generated_tokens = out.generated_tokens;
      } else {
        it->second.push_back(std::move(out));
      }
    }
    results.notify_all();
  }

  RequestOutput base_output(const Sequence& s) const {
    RequestOutput out;
    out.request_id = s.id;
    out.prompt_tokens = s.prompt_tokens;
    out.generated_tokens = static_cast<int64_t>(s.ids.size()) - s.prompt_tokens;
    out.cached_prompt_tokens = s.cached_prompt_tokens;
    return out;
  }

  void finish(const Sequence& s, std::string reason, std::string error = {}) {
    RequestOutput out = base_output(s);
    out.finished = true;
    out.finish_reason = std::move(reason);
    out.error = std::move(error);
    publish(std::move(out));
  }

  // Ends `s` (already out of `running`): its blocks go back to the pool.
  void end(Sequence& s, std::string reason, std::string error = {}) {
    kv.release(s.cache_id);
    finish(s, std::move(reason), std::move(error));
  }

  // Picks the next token of `s` from its last position's logits. Returns whether it goes on.
  bool emit(Sequence& s, std::vector<float> scores) {
    s.processors.apply(s.ids, scores);
    const int64_t token = s.config.do_sample ? sample_index(softmax(scores), s.rng) : argmax(scores);
    s.ids.push_back(token);
    RequestOutput out = base_output(s);
    out.new_tokens = {token};
    if (s.top_logprobs >= 0) out.logprobs.push_back(token_logprob(scores, token, s.top_logprobs));
    {
      std::lock_guard lock(mutex);
      totals.generated_tokens += 1;
    }
    publish(std::move(out));
    if (!s.criteria.is_done(s.ids)) return true;
    const bool eos = std::find(s.config.eos_token_ids.begin(), s.config.eos_token_ids.end(), token) !=
                     s.config.eos_token_ids.end();
    end(s, eos || static_cast<int64_t>(s.ids.size()) < s.config.max_length ? "stop" : "length");
    return false;
  }

  std::string budget_error(int64_t tokens) const {
    return detail::concat("the KV cache budget (kv_cache_bytes = ", kv.budget_bytes(), ") cannot hold the ", tokens,
                          " tokens of this request (", kv.bytes_for(tokens, options.max_batch_tokens), " bytes)");
  }

  // Sends the newest running sequence back to the front of the queue; its blocks are freed and
  // its tokens recomputed when it is admitted again.
  void preempt_newest() {
    std::unique_ptr<Sequence> s = std::move(running.back());
    running.pop_back();
    kv.release(s->cache_id);
    s->computed = 0;
    std::lock_guard lock(mutex);
    totals.preemptions += 1;
    queued.push_front(std::move(s));
  }

  // Admits waiting requests (engine thread, mutex held) while there is room to run them. Returns
  // those whose prompt alone exceeds the KV budget (to end with an error once unlocked).
  std::vector<std::unique_ptr<Sequence>> admit_locked() {
    std::vector<std::unique_ptr<Sequence>> too_large;
    while (!queued.empty() && static_cast<int64_t>(running.size()) < options.max_running) {
      std::unique_ptr<Sequence> s = std::move(queued.front());
      queued.pop_front();
      const int64_t tokens = static_cast<int64_t>(s->ids.size());
      if (kv.bytes_for(tokens, options.max_batch_tokens) > kv.budget_bytes()) {
        too_large.push_back(std::move(s));
        continue;
      }
      if (!s->admitted_before) totals.prompt_tokens += s->prompt_tokens;
      s->admitted_before = true;
      s->cache_id = next_cache_id++;
      running.push_back(std::move(s));
    }
    return too_large;
  }

  // A sequence starting from scratch takes the cached blocks of its leading full blocks.
  void look_up_prefix(Sequence& s) {
    s.computed = kv.match_prefix(s.cache_id, s.ids);
    if (s.prefix_looked_up) return;  // a recomputed (preempted) sequence counts its prompt once
    s.prefix_looked_up = true;
    s.cached_prompt_tokens = std::min(s.computed, s.prompt_tokens);
    std::lock_guard lock(mutex);
    totals.cached_prompt_tokens += s.cached_prompt_tokens;
  }

  // The tokens each running sequence feeds this step (oldest first, within max_batch_tokens),
  // with their pages reserved. Preempts the newest sequences when the budget is full; a sequence
  // that does not fit even alone ends with an error.
  std::vector<std::pair<Sequence*, RaggedEntry>> plan_step() {
    std::vector<std::pair<Sequence*, RaggedEntry>> plan;
    int64_t tokens_left = options.max_batch_tokens;
    for (size_t i = 0; i < running.size() && tokens_left > 0; ++i) {
      Sequence& s = *running[i];
      if (s.computed == 0 && options.prefix_caching) look_up_prefix(s);
      const int64_t n = std::min(static_cast<int64_t>(s.ids.size()) - s.computed, tokens_left);
      kv.trim_to_window(s.cache_id, s.computed);
      bool reserved = kv.reserve(s.cache_id, s.computed + n);
      while (!reserved && running.size() > i + 1) {
        preempt_newest();
        reserved = kv.reserve(s.cache_id, s.computed + n);
      }
      if (!reserved) {
        if (i == 0) {  // alone and still no room: it never will have
          end(s, "error", budget_error(s.computed + n));
          running[i].reset();
        } else {
          preempt_newest();  // itself, the newest: it waits for the older ones to finish
        }
        break;
      }
      plan.push_back({&s, {s.cache_id, s.computed, {s.ids.begin() + s.computed, s.ids.begin() + s.computed + n}}});
      tokens_left -= n;
    }
    std::erase(running, nullptr);
    return plan;
  }

  // One ragged forward over `plan`; the sequences whose whole text is now in the cache pick their
  // next token. A forward that fails (a sequence past a model's learned positions) is retried one
  // sequence at a time, so only the sequence at fault ends with the error.
  void run_step(const std::vector<std::pair<Sequence*, RaggedEntry>>& plan) {
    std::vector<RaggedEntry> entries;
    for (const auto& [s, e] : plan) entries.push_back(e);
    RaggedBatch batch = make_ragged_batch(kv, entries);
    std::vector<Sequence*> sampling;
    batch.logit_rows.clear();
    int64_t row = 0;
    for (const auto& [s, e] : plan) {
      row += static_cast<int64_t>(e.tokens.size());
      if (e.position + static_cast<int64_t>(e.tokens.size()) == static_cast<int64_t>(s->ids.size())) {
        batch.logit_rows.push_back(row - 1);
        sampling.push_back(s);
      }
    }
    Tensor logits;
    try {
      logits = model.forward(batch.input_ids, {.ragged = &batch}).logits;
    } catch (const std::exception&) {
      if (plan.size() == 1) throw;
      for (const auto& one : plan) {
        try {
          run_step({one});
        } catch (const std::exception& e) {
          one.first->ended = true;
          end(*one.first, "error", e.what());
        }
      }
      return;
    }
    for (const auto& [s, e] : plan) {
      s->computed += static_cast<int64_t>(e.tokens.size());
      if (options.prefix_caching) kv.publish_prefix(s->cache_id, s->ids, s->computed);
    }
    for (size_t i = 0; i < sampling.size(); ++i) {
      std::vector<float> scores = ops::to_float_vector(logits.select(1, static_cast<int64_t>(i)));
      if (!emit(*sampling[i], std::move(scores))) sampling[i]->ended = true;
    }
  }

  void run() {
    while (true) {
      std::vector<std::unique_ptr<Sequence>> cancelled_now, too_large;
      {
        std::unique_lock lock(mutex);
        work.wait(lock, [&] { return stopping || !queued.empty() || !running.empty(); });
        if (stopping) break;
        for (auto& s : running)
          if (cancelled.erase(s->id)) cancelled_now.push_back(std::move(s));
        cancelled.clear();  // ids that finished meanwhile
        std::erase(running, nullptr);
        too_large = admit_locked();
      }
      for (auto& s : cancelled_now) end(*s, "cancelled");
      for (auto& s : too_large) finish(*s, "error", budget_error(static_cast<int64_t>(s->ids.size())));
      const auto plan = plan_step();
      if (!plan.empty()) {
        try {
          run_step(plan);
        } catch (const std::exception& e) {
          for (const auto& [s, entry] : plan) {
            s->ended = true;
            end(*s, "error", e.what());
          }
        }
      }
      std::erase_if(running, [](const std::unique_ptr<Sequence>& s) { return s->ended; });
      std::lock_guard lock(mutex);
      running_count = static_cast<int64_t>(running.size());
      totals.steps += 1;
      totals.kv_blocks_used = kv.used_blocks();
      totals.kv_blocks_free = kv.free_blocks();
      totals.kv_cache_bytes = kv.allocated_bytes();
    }
    for (auto& s : running) end(*s, "cancelled");
    std::deque<std::unique_ptr<Sequence>> left;
    {
      std::lock_guard lock(mutex);
      left.swap(queued);
    }
    for (auto& s : left) finish(*s, "cancelled");
  }
};

ContinuousBatchingManager::ContinuousBatchingManager(const CausalLM& model, ContinuousBatchingOptions options)
    : state_(std::make_unique<State>(model, options)) {
  TCPP_CHECK(options.max_running > 0 && options.max_queued >= 0 && options.max_batch_tokens > 0 &&
                 options.kv_cache_bytes >= 0,
             ValueError,
             "ContinuousBatchingManager: max_running and max_batch_tokens must be positive, max_queued and "
             "kv_cache_bytes >= 0");
  state_->engine = std::thread([s = state_.get()] { s->run(); });
}

ContinuousBatchingManager::~ContinuousBatchingManager() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->work.notify_all();
  state_->engine.join();
}

std::string ContinuousBatchingManager::add_request(std::vector<int64_t> input_ids, BatchRequestOptions options,
                                                   std::string request_id) {
  const GenerationConfig& c = options.config;
  TCPP_CHECK(!input_ids.empty(), ValueError, "add_request: the prompt is empty");
  c.validate();
  TCPP_CHECK(c.num_beams == 1 && c.num_return_sequences == 1, ValueError,
             "add_request: continuous batching decodes one sequence per request (num_beams and "
             "num_return_sequences must be 1)");
  const int64_t vocab = state_->model.config().vocab_size;
  c.check_token_ids(vocab);
  for (int64_t t : input_ids)
    TCPP_CHECK(t >= 0 && t < vocab, ValueError, "add_request: token id ", t, " is outside the vocabulary [0, ", vocab, ")");
  const int64_t L = static_cast<int64_t>(input_ids.size());
  check_sequence_length(state_->model.config(), L, "add_request");
  GenerationConfig g = c;
  g.max_length = L + c.new_tokens_for(L);
  TCPP_CHECK(g.max_length > L, ValueError, "add_request: the prompt has ", L, " tokens but max_length is ", g.max_length);
  if (request_id.empty()) request_id = "req_" + std::to_string(state_->next_id.fetch_add(1));

  auto s = std::make_unique<Sequence>(request_id, std::move(input_ids), g, options.top_logprobs,
                                      options.seed.value_or(random_seed()));
  s->processors = make_logits_processors(g, {.input_length = L, .max_length = g.max_length}, options.logits_processors);
  s->criteria.add(std::make_shared<MaxLengthCriteria>(g.max_length));
  if (g.max_time) s->criteria.add(std::make_shared<MaxTimeCriteria>(*g.max_time));
  if (!g.stop_strings.empty()) s->criteria.add(std::make_shared<StopStringCriteria>(g.stop_strings, options.decode));
  if (!g.eos_token_ids.empty()) s->criteria.add(std::make_shared<EosTokenCriteria>(g.eos_token_ids));
  {
    std::lock_guard lock(state_->mutex);
    TCPP_CHECK(!state_->stopping, ValueError, "add_request: the manager is stopping");
    TCPP_CHECK(!state_->outputs.contains(request_id), ValueError, "add_request: request id '", request_id,
               "' is already in use");
    if (static_cast<int64_t>(state_->queued.size()) >= state_->options.max_queued)
      throw CapacityError(detail::concat("add_request: ", state_->queued.size(), " requests are waiting (max_queued ",
                                         state_->options.max_queued, "); retry later"));
    state_->outputs[request_id];
    state_->queued.push_back(std::move(s));
  }
  state_->work.notify_all();
  return request_id;
}

std::optional<RequestOutput> ContinuousBatchingManager::get_result(const std::string& request_id,
                                                                   std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  auto it = state_->outputs.find(request_id);
  TCPP_CHECK(it != state_->outputs.end(), ValueError, "get_result: no request '", request_id,
             "' (unknown, or its last output was already read)");
  if (!state_->results.wait_for(lock, timeout, [&] { return !it->second.empty(); })) return std::nullopt;
  RequestOutput out = std::move(it->second.front());
  it->second.pop_front();
  if (out.finished) state_->outputs.erase(it);
  return out;
}

void ContinuousBatchingManager::cancel_request(const std::string& request_id) {
  std::unique_ptr<Sequence> waiting;
  {
    std::lock_guard lock(state_->mutex);
    for (auto it = state_->queued.begin(); it != state_->queued.end(); ++it)
      if ((*it)->id == request_id) {
        waiting = std::move(*it);
        state_->queued.erase(it);
        break;
      }
    if (!waiting && state_->outputs.contains(request_id)) state_->cancelled.insert(request_id);
  }
  if (waiting) state_->finish(*waiting, "cancelled");
}

ContinuousBatchingManager::Stats ContinuousBatchingManager::stats() const {
  std::lock_guard lock(state_->mutex);
  Stats s = state_->totals;
  s.queued = static_cast<int64_t>(state_->queued.size());
  s.running = state_->running_count;
  return s;
}

std::vector<std::vector<int64_t>> generate_batch(const CausalLM& model, const std::vector<std::vector<int64_t>>& inputs,
                                                 const GenerationConfig& config,
                                                 const ContinuousBatchingOptions& options) {
  ContinuousBatchingOptions o = options;
  o.max_queued = std::max<int64_t>(o.max_queued, static_cast<int64_t>(inputs.size()));
  ContinuousBatchingManager manager(model, o);
  std::vector<std::string> ids;
  for (const auto& prompt : inputs) ids.push_back(manager.add_request(prompt, {.config = config}));
  std::vector<std::vector<int64_t>> out(inputs.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    while (true) {
      std::optional<RequestOutput> r = manager.get_result(ids[i], std::chrono::milliseconds(1000));
      if (!r) continue;
      out[i].insert(out[i].end(), r->new_tokens.begin(), r->new_tokens.end());
      if (!r->finished) continue;
      TCPP_CHECK(r->finish_reason != "error", ValueError, "generate_batch: prompt ", i, ": ", r->error);
      break;
    }
  }
  return out;
}

}  // namespace transformers
