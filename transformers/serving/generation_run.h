// One request on a model's ContinuousBatchingManager, as text: new tokens are decoded
// incrementally (pieces never split a UTF-8 character), stop strings are cut from the text the
// way OpenAI does (the text a stop string could still begin is held back until it cannot), and
// the request is cancelled when the run is dropped before its end (a client went away).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "transformers/serving/model_store.h"
#include "transformers/serving/sampling.h"

namespace transformers::serving {

struct TextStep {
  std::string text;                    // new stable text (may be empty)
  std::vector<TokenLogprob> logprobs;  // one per new token when asked
  bool finished = false;
  std::string finish_reason;  // "stop" or "length" when finished
};

class GenerationRun {
 public:
  // Queues the request (CapacityError when the queue is full).
  GenerationRun(std::shared_ptr<ServedModel> model, std::vector<int64_t> prompt, const SamplingRequest& sampling);
  ~GenerationRun();  // cancels an unfinished request and drains it
  GenerationRun(const GenerationRun&) = delete;
  GenerationRun& operator=(const GenerationRun&) = delete;

  // The next output, waiting up to `wait`; an empty unfinished step when none came.
  TextStep next(std::chrono::milliseconds wait);
  // Runs to the end: all the text, every logprob, the finish reason.
  TextStep collect();

  int64_t prompt_tokens() const { return prompt_tokens_; }
  int64_t completion_tokens() const { return completion_tokens_; }
  const ServedModel& model() const { return *model_; }

 private:
  // Moves held text that no stop string can begin any more into `out`.
  void release_held(std::string& out, bool all);
  void drain();

  std::shared_ptr<ServedModel> model_;
  std::string id_;
  IncrementalDecoder decoder_;
  std::vector<std::string> stop_;
  size_t longest_stop_ = 0;
  std::string held_;
  bool finished_ = false;
  int64_t prompt_tokens_ = 0, completion_tokens_ = 0;
};

// The request's n choices, queued together so that they share the batch (and, through prefix
// caching, the prompt's blocks); choice i samples with seed + i, so sampled choices differ.
std::vector<std::unique_ptr<GenerationRun>> start_choices(const std::shared_ptr<ServedModel>& model,
                                                          const std::vector<int64_t>& prompt,
                                                          const SamplingRequest& sampling);

// A streamed request's choices served in turn, each call the next unfinished one, so that n
// choices advance together (they run in one batch anyway).
class ChoiceCursor {
 public:
  explicit ChoiceCursor(size_t n) : done_(n, false) {}
  size_t next();
  void finish(size_t i) { done_[i] = true; }
  bool all_done() const;

 private:
  std::vector<bool> done_;
  size_t cursor_ = 0;
};

}  // namespace transformers::serving
