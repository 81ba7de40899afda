#include "transformers/serving/generation_run.h"

#include "transformers/generation/json_constraint.h"
#include "transformers/generation/tokenizer_adapters.h"
#include "transformers/serving/api_error.h"

namespace transformers::serving {

namespace {
// Generated text is decoded without special tokens (eos, <|im_end|>), as v5's serve does.
DecodeOptions skip_special() {
  DecodeOptions o;
  o.skip_special_tokens = true;
  return o;
}

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }
}  // namespace

GenerationRun::GenerationRun(std::shared_ptr<ServedModel> model, std::vector<int64_t> prompt,
                             const SamplingRequest& sampling)
    : model_(std::move(model)), decoder_(model_->tokenizer->incremental_decoder(skip_special())), stop_(sampling.stop) {
  for (const auto& s : stop_) longest_stop_ = std::max(longest_stop_, s.size());
  prompt_tokens_ = static_cast<int64_t>(prompt.size());
  BatchRequestOptions options{.config = sampling.config, .seed = sampling.seed, .top_logprobs = sampling.top_logprobs};
  if (!sampling.config.stop_strings.empty()) options.decode = token_decoder(*model_->tokenizer);
  if (sampling.json_object)
    options.logits_processors.push_back(std::make_shared<JsonObjectLogitsProcessor>(
        model_->token_texts(), sampling.config.eos_token_ids, prompt.size()));
  id_ = model_->manager->add_request(std::move(prompt), std::move(options));
}

GenerationRun::~GenerationRun() {
  if (finished_) return;
  model_->manager->cancel_request(id_);
  drain();
}

void GenerationRun::drain() {
  // The manager keeps a request's outputs until its last one is read; a cancelled request ends
  // at the engine's next step.
  try {
    for (int tries = 0; tries < 600; ++tries) {
      auto out = model_->manager->get_result(id_, std::chrono::milliseconds(100));
      if (out && out->finished) break;
    }
  } catch (const Error&) {
  }
  finished_ = true;
}

void GenerationRun::release_held(std::string& out, bool all) {
  size_t keep = all || longest_stop_ == 0 ? 0 : std::min(held_.size(), longest_stop_ - 1);
  size_t cut = held_.size() - keep;
  while (cut > 0 && cut < held_.size() && is_continuation_byte(held_[cut])) --cut;
  out += held_.substr(0, cut);
  held_.erase(0, cut);
}

TextStep GenerationRun::next(std::chrono::milliseconds wait) {
  TextStep step;
  if (finished_) {
    step.finished = true;
    return step;
  }
  std::optional<RequestOutput> out = model_->manager->get_result(id_, wait);
  if (!out) return step;
  if (out->finished && out->finish_reason == "error") {
    finished_ = true;
    throw ApiError(400, out->error);
  }
  completion_tokens_ = out->generated_tokens;
  step.logprobs = std::move(out->logprobs);
  for (int64_t t : out->new_tokens) held_ += decoder_.step(t);
  if (out->finished) held_ += decoder_.flush();
  // A stop string ends the text before it (OpenAI leaves it out; the engine has stopped or is
  // told to).
  size_t stop_at = std::string::npos;
  for (const auto& s : stop_) stop_at = std::min(stop_at, held_.find(s));
  if (stop_at != std::string::npos) {
    held_.resize(stop_at);
    if (!out->finished) {
      model_->manager->cancel_request(id_);
      drain();
    }
    out->finished = true;
    out->finish_reason = "stop";
  }
  release_held(step.text, out->finished);
  if (out->finished) {
    finished_ = true;
    step.finished = true;
    step.finish_reason = out->finish_reason == "length" ? "length" : "stop";
  }
  return step;
}

TextStep GenerationRun::collect() {
  TextStep all;
  while (!all.finished) {
    TextStep s = next(std::chrono::milliseconds(1000));
    all.text += s.text;
    all.logprobs.insert(all.logprobs.end(), s.logprobs.begin(), s.logprobs.end());
    all.finished = s.finished;
    all.finish_reason = s.finish_reason;
  }
  return all;
}

std::vector<std::unique_ptr<GenerationRun>> start_choices(const std::shared_ptr<ServedModel>& model,
                                                          const std::vector<int64_t>& prompt,
                                                          const SamplingRequest& sampling) {
  std::vector<std::unique_ptr<GenerationRun>> runs;
  for (int64_t i = 0; i < sampling.n; ++i) {
    SamplingRequest choice = sampling;
    if (choice.seed) *choice.seed += static_cast<uint64_t>(i);
    runs.push_back(std::make_unique<GenerationRun>(model, prompt, choice));
  }
  return runs;
}

size_t ChoiceCursor::next() {
  for (size_t k = 0; k < done_.size(); ++k) {
    const size_t i = (cursor_ + k) % done_.size();
    if (!done_[i]) {
      cursor_ = i + 1;
      return i;
    }
  }
  return 0;
}

bool ChoiceCursor::all_done() const {
  for (bool d : done_)
    if (!d) return false;
  return true;
}

}  // namespace transformers::serving
