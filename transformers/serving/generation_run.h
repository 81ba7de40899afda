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

}  // namespace transformers::serving
