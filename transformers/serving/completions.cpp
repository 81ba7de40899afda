// POST /v1/completions: the legacy prompt completion (text_completion shape), streamed as SSE
// chunks of the same shape when asked.
#include "transformers/serving/api_error.h"
#include "transformers/serving/endpoints.h"
#include "transformers/serving/generation_run.h"
#include "transformers/serving/request_fields.h"

namespace transformers::serving {

namespace {
using namespace detail;

Json completion(const std::string& id, const std::string& model, int64_t created, Json choices) {
  return {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model}, {"choices", std::move(choices)}};
}

Json choice(size_t index, const std::string& text, Json finish_reason, Json logprobs = nullptr) {
  return {{"index", index}, {"text", text}, {"logprobs", std::move(logprobs)}, {"finish_reason", std::move(finish_reason)}};
}

// The legacy logprobs shape: parallel lists of tokens, their logprobs and {token: logprob} maps.
Json legacy_logprobs(const Tokenizer& tokenizer, const std::vector<TokenLogprob>& logprobs) {
  Json lp = {{"tokens", Json::array()}, {"token_logprobs", Json::array()}, {"top_logprobs", Json::array()}};
  for (const auto& e : logprobs_content(tokenizer, logprobs)) {
    lp["tokens"].push_back(e["token"]);
    lp["token_logprobs"].push_back(e["logprob"]);
    Json top = Json::object();
    for (const auto& t : e["top_logprobs"]) top[t["token"].get<std::string>()] = t["logprob"];
    lp["top_logprobs"].push_back(top);
  }
  return lp;
}

int64_t completion_tokens(const std::vector<std::unique_ptr<GenerationRun>>& runs) {
  int64_t n = 0;
  for (const auto& r : runs) n += r->completion_tokens();
  return n;
}

class CompletionStream : public EventStream {
 public:
  CompletionStream(std::string id, std::shared_ptr<ServedModel> model, const std::vector<int64_t>& prompt,
                   const SamplingRequest& sampling, bool include_usage)
      : id_(std::move(id)), model_id_(model->id), runs_(start_choices(model, prompt, sampling)), cursor_(runs_.size()),
        include_usage_(include_usage), created_(unix_time()) {}

  bool next(const std::function<bool(std::string_view)>& write) override {
    const size_t i = cursor_.next();
    TextStep step = runs_[i]->next(std::chrono::milliseconds(200));
    if (!step.finished && step.text.empty()) return write(": keep-alive\n\n");
    Json reason = step.finished ? Json(step.finish_reason) : Json(nullptr);
    if (!write(sse_frame(completion(id_, model_id_, created_, Json::array({choice(i, step.text, reason)}))))) return false;
    if (!step.finished) return true;
    cursor_.finish(i);
    if (!cursor_.all_done()) return true;
    end_stream(write, completion(id_, model_id_, created_, Json::array()),
               include_usage_ ? usage_json(runs_[0]->prompt_tokens(), completion_tokens(runs_)) : Json());
    return false;
  }

 private:
  std::string id_, model_id_;
  std::vector<std::unique_ptr<GenerationRun>> runs_;
  ChoiceCursor cursor_;
  bool include_usage_;
  int64_t created_;
};
}  // namespace

Reply completions(const Request& request, ServerState& state) {
  Json body = request.body;
  // The legacy API's logprobs is a count of alternatives (0..5), not a boolean.
  if (body.contains("logprobs") && body["logprobs"].is_number_integer()) {
    body["top_logprobs"] = body["logprobs"];
    body["logprobs"] = true;
  }
  auto model = generator_of(body, state);
  if (get_string(body, "suffix").value_or("") != "") throw bad_field("suffix", "is not supported");
  if (get_bool(body, "echo").value_or(false)) throw bad_field("echo", "is not supported");
  if (!body.contains("prompt") || body["prompt"].is_null()) throw bad_field("prompt", "is required");
  std::vector<int64_t> prompt = prompt_ids(body["prompt"], "prompt", *model);
  const SamplingRequest sampling = parse_sampling(body, *model, state.limits, {"max_tokens"});
  if (get_bool(body, "stream").value_or(false)) {
    return Reply::sse(std::make_unique<CompletionStream>(request.id, model, prompt, sampling, stream_include_usage(body)));
  }
  auto runs = start_choices(model, prompt, sampling);
  Json choices = Json::array();
  for (size_t i = 0; i < runs.size(); ++i) {
    TextStep all = runs[i]->collect();
    choices.push_back(choice(i, all.text, all.finish_reason,
                             sampling.top_logprobs >= 0 ? legacy_logprobs(*model->tokenizer, all.logprobs) : Json(nullptr)));
  }
  Json out = completion(request.id, model->id, unix_time(), std::move(choices));
  out["usage"] = usage_json(runs[0]->prompt_tokens(), completion_tokens(runs));
  return Reply::json(out);
}

}  // namespace transformers::serving
