// The manager's first engine: each step feeds every running sequence one forward of its own
// (its whole prompt first, then one token), each with a dense cache of its own. Requests join and
// leave between steps. The paged cache and the packed ragged forward replace the per-sequence
// forwards behind the same interface.
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
  std::unique_ptr<Cache> cache;
  bool cancelled = false;

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
  std::thread engine;

  State(const CausalLM& m, ContinuousBatchingOptions o) : model(m), options(o) {}

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
    return out;
  }

  void finish(const Sequence& s, std::string reason, std::string error = {}) {
    RequestOutput out = base_output(s);
    out.finished = true;
    out.finish_reason = std::move(reason);
    out.error = std::move(error);
    publish(std::move(out));
  }

  // One forward for `s`: its prompt the first time, then its newest token. Returns whether it
  // goes on.
  bool step(Sequence& s) {
    if (!s.cache) s.cache = model.make_cache();
    const int64_t start = s.cache->seq_length(), total = static_cast<int64_t>(s.ids.size());
    const std::vector<int64_t> feed(s.ids.begin() + start, s.ids.end());
    const Tensor ids = Tensor::from_values(feed, {1, total - start});
    ForwardOptions fo;
    fo.cache = s.cache.get();
    fo.logits_to_keep = 1;
    const CausalLMOutput o = model.forward(ids, fo);
    std::vector<float> scores = ops::to_float_vector(o.logits.select(1, 0));
    s.processors.apply(s.ids, scores);
    int64_t token = 0;
    if (s.config.do_sample) {
      token = sample_index(softmax(scores), s.rng);
    } else {
      token = argmax(scores);
    }
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
    finish(s, eos || static_cast<int64_t>(s.ids.size()) < s.config.max_length ? "stop" : "length");
    return false;
  }

  void run() {
    while (true) {
      {
        std::unique_lock lock(mutex);
        work.wait(lock, [&] { return stopping || !queued.empty() || !running.empty(); });
        if (stopping) break;
        while (!queued.empty() && static_cast<int64_t>(running.size()) < options.max_running) {
          totals.prompt_tokens += queued.front()->prompt_tokens;
          running.push_back(std::move(queued.front()));
          queued.pop_front();
        }
        for (auto& s : running)
          if (cancelled.erase(s->id)) s->cancelled = true;
        cancelled.clear();  // ids that finished meanwhile
        running_count = static_cast<int64_t>(running.size());
      }
      for (auto& s : running) {
        bool go_on = false;
        if (!s->cancelled) {
          try {
            go_on = step(*s);
          } catch (const std::exception& e) {
            finish(*s, "error", e.what());
          }
        } else {
          finish(*s, "cancelled");
        }
        if (!go_on) s.reset();
      }
      std::erase(running, nullptr);
      std::lock_guard lock(mutex);
      totals.steps += 1;
      running_count = static_cast<int64_t>(running.size());  // stats() right after the last one ends
    }
    for (auto& s : running) finish(*s, "cancelled");
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
  TCPP_CHECK(options.max_running > 0 && options.max_queued >= 0 && options.max_batch_tokens > 0, ValueError,
             "ContinuousBatchingManager: max_running and max_batch_tokens must be positive, max_queued >= 0");
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
