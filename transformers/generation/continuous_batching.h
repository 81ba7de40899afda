// Continuous batching with v5's names (generation/continuous_batching/): a
// ContinuousBatchingManager owns one engine thread that runs the model; any thread adds requests,
// reads each request's outputs as they come and cancels requests. Between model steps the engine
// admits waiting requests and drops finished or cancelled ones, so a new request never waits for
// the others to end. generate_batch() runs a list of prompts through one manager and returns
// each prompt's tokens.
//
// Underneath, one model step is one ragged forward over the packed tokens of every running
// sequence (decode tokens and prompt chunks of up to max_batch_tokens in all) with K/V in a paged
// cache bounded by kv_cache_bytes (cache/paged_cache.h); see generation/README.md.
//
// Each request decodes with its own GenerationConfig (greedy or sampling, v5's processors and
// stopping criteria, its own seeded generator): its tokens are the ones generate() gives for that
// prompt alone with the same config and seed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transformers/config/generation_config.h"
#include "transformers/generation/logits_processors.h"
#include "transformers/generation/stopping_criteria.h"
#include "transformers/models/causal_lm.h"

namespace transformers {

// The manager cannot take more work now (the queue or the KV cache budget is full): a server
// answers 429. Retrying later can succeed.
class CapacityError : public Error {
 public:
  using Error::Error;
};

struct BatchRequestOptions {
  // num_beams and num_return_sequences must be 1 (ValueError otherwise).
  GenerationConfig config = {};
  std::optional<uint64_t> seed = {};  // sampling; none: a random one
  TokenDecoder decode = {};           // needed by config.stop_strings
  // >= 0: each output carries the chosen token's log-probability and the `top_logprobs` most
  // likely alternatives (log-softmax of the processed scores); -1: none.
  int top_logprobs = -1;
  // After the config's processors, before the sampling warpers (e.g. OpenAI's logit_bias).
  std::vector<std::shared_ptr<const LogitsProcessor>> logits_processors = {};
};

struct TokenLogprob {
  int64_t token = 0;
  float logprob = 0.0f;
  std::vector<std::pair<int64_t, float>> top;  // most likely first
};

struct RequestOutput {
  std::string request_id;
  std::vector<int64_t> new_tokens;     // generated since this request's previous output
  std::vector<TokenLogprob> logprobs;  // one per new token when asked
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens whose prefill a prefix cache skipped
  int64_t generated_tokens = 0;      // in all, so far
  bool finished = false;
  // When finished: "stop" (eos or a stop string), "length" (max_new_tokens / max_length),
  // "cancelled", or "error" (then `error` says why).
  std::string finish_reason;
  std::string error;
};

struct ContinuousBatchingOptions {
  int64_t max_running = 32;        // sequences decoded together
  int64_t max_queued = 1024;       // waiting to start; one more is a CapacityError
  int64_t max_batch_tokens = 512;  // tokens per model step (decode tokens + prefill chunks)
  // Memory for the paged KV cache; 0: a quarter of the machine's memory, at most 4 GiB. A request
  // whose prompt alone does not fit ends with finish_reason "error" naming this budget.
  int64_t kv_cache_bytes = 0;
  // Share the KV blocks of identical prompt prefixes (whole 64-token blocks) between requests, so
  // a repeated system prompt is prefilled once; models with sliding-window layers never share.
  bool prefix_caching = true;
};

class ContinuousBatchingManager {
 public:
  // Starts the engine thread. The model must outlive the manager.
  explicit ContinuousBatchingManager(const CausalLM& model, ContinuousBatchingOptions options = {});
  // Stops the engine thread; requests not finished end as "cancelled".
  ~ContinuousBatchingManager();
  ContinuousBatchingManager(const ContinuousBatchingManager&) = delete;
  ContinuousBatchingManager& operator=(const ContinuousBatchingManager&) = delete;

  // Queues a request and returns its id (`request_id`, or a new unique one when empty).
  // ValueError for bad input (empty prompt, ids out of the vocabulary, a duplicate id, beams);
  // CapacityError when the queue is full.
  std::string add_request(std::vector<int64_t> input_ids, BatchRequestOptions options, std::string request_id = {});
  // The request's next output, waiting up to `timeout`; nullopt when none came in time. Outputs
  // carry the tokens generated since the previous one; the last has finished = true, after which
  // the request is forgotten (asking again is a ValueError naming the id).
  std::optional<RequestOutput> get_result(const std::string& request_id, std::chrono::milliseconds timeout);
  // Ends the request at the engine's next step (its last output says "cancelled") and frees its
  // cache. Unknown or finished ids are ignored.
  void cancel_request(const std::string& request_id);

  struct Stats {
    int64_t running = 0, queued = 0;
    int64_t steps = 0;               // model steps run
    int64_t prompt_tokens = 0;       // prompt tokens admitted
    int64_t cached_prompt_tokens = 0;  // of which a prefix cache skipped
    int64_t generated_tokens = 0;
    // The paged KV cache after the latest step: blocks held by sequences, blocks allocated and
    // idle (ready for reuse), bytes allocated (at most kv_cache_bytes).
    int64_t kv_blocks_used = 0, kv_blocks_free = 0, kv_cache_bytes = 0;
    int64_t preemptions = 0;  // sequences sent back to the queue to free KV blocks
  };
  Stats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// v5's generate_batch: every prompt through one manager; returns each prompt's generated tokens
// (without the prompt), in the order of `inputs`.
std::vector<std::vector<int64_t>> generate_batch(const CausalLM& model, const std::vector<std::vector<int64_t>>& inputs,
                                                 const GenerationConfig& config,
                                                 const ContinuousBatchingOptions& options = {});

}  // namespace transformers
