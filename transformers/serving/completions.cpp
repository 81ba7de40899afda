// POST /v1/completions: the legacy prompt completion (text_completion shape), streamed as SSE
// chunks of the same shape when asked.
#include "transformers/serving/api_error.h"
#include "transformers/serving/endpoints.h"
#include "transformers/serving/generation_run.h"
#include "transformers/serving/request_fields.h"

namespace transformers::serving {

namespace {
using namespace detail;

Json completion(const std::string& id, const std::string& model, int64_t created, const std::string& text,
                Json finish_reason) {
  return {{"id", id},
          {"object", "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", Json::array({{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish_reason}}})}};
}

class CompletionStream : public EventStream {
 public:
  CompletionStream(std::string id, std::shared_ptr<ServedModel> model, std::vector<int64_t> prompt,
                   const SamplingRequest& sampling, bool include_usage)
      : id_(std::move(id)), model_id_(model->id), run_(std::move(model), std::move(prompt), sampling),
        include_usage_(include_usage), created_(unix_time()) {}

  bool next(const std::function<bool(std::string_view)>& write) override {
    TextStep step = run_.next(std::chrono::milliseconds(200));
    if (!step.finished && step.text.empty()) return write(": keep-alive\n\n");
    Json reason = step.finished ? Json(step.finish_reason) : Json(nullptr);
    if (!write(sse_frame(completion(id_, model_id_, created_, step.text, reason)))) return false;
    if (!step.finished) return true;
    end_stream(write, completion(id_, model_id_, created_, "", nullptr),
               include_usage_ ? usage_json(run_.prompt_tokens(), run_.completion_tokens()) : Json());
    return false;
  }

 private:
  std::string id_, model_id_;
  GenerationRun run_;
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
    return Reply::sse(std::make_unique<CompletionStream>(request.id, model, std::move(prompt), sampling, stream_include_usage(body)));
  }
  GenerationRun run(model, std::move(prompt), sampling);
  TextStep all = run.collect();
  Json out = completion(request.id, model->id, unix_time(), all.text, all.finish_reason);
  if (sampling.top_logprobs >= 0) {
    Json content = logprobs_content(*model->tokenizer, all.logprobs);
    Json lp = {{"tokens", Json::array()}, {"token_logprobs", Json::array()}, {"top_logprobs", Json::array()}};
    for (const auto& e : content) {
      lp["tokens"].push_back(e["token"]);
      lp["token_logprobs"].push_back(e["logprob"]);
      Json top = Json::object();
      for (const auto& t : e["top_logprobs"]) top[t["token"].get<std::string>()] = t["logprob"];
      lp["top_logprobs"].push_back(top);
    }
    out["choices"][0]["logprobs"] = lp;
  }
  out["usage"] = usage_json(run.prompt_tokens(), run.completion_tokens());
  return Reply::json(out);
}

}  // namespace transformers::serving
