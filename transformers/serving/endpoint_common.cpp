#include <ctime>

#include "transformers/serving/api_error.h"
#include "transformers/serving/endpoints.h"
#include "transformers/serving/request_fields.h"

namespace transformers::serving::detail {

int64_t unix_time() { return static_cast<int64_t>(std::time(nullptr)); }

std::string sse_frame(const Json& data) { return "data: " + data.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n"; }

std::string sse_event(const std::string& event, const Json& data) { return "event: " + event + "\n" + sse_frame(data); }

Json usage_json(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

bool stream_include_usage(const Json& body) {
  const auto options = get_object(body, "stream_options");
  return options && get_bool(*options, "include_usage").value_or(false);
}

void end_stream(const std::function<bool(std::string_view)>& write, Json chunk, Json usage) {
  if (!usage.is_null()) {
    chunk["choices"] = Json::array();
    chunk["usage"] = std::move(usage);
    if (!write(sse_frame(chunk))) return;
  }
  write("data: [DONE]\n\n");
}

namespace {
Json token_entry(const Tokenizer& tokenizer, int64_t id, float logprob) {
  const std::vector<int64_t> one{id};
  const std::string text = tokenizer.decode(one);
  Json bytes = Json::array();
  for (unsigned char c : text) bytes.push_back(static_cast<int>(c));
  return {{"token", text}, {"logprob", logprob}, {"bytes", bytes}};
}
}  // namespace

Json logprobs_content(const Tokenizer& tokenizer, const std::vector<TokenLogprob>& logprobs) {
  Json content = Json::array();
  for (const auto& lp : logprobs) {
    Json e = token_entry(tokenizer, lp.token, lp.logprob);
    e["top_logprobs"] = Json::array();
    for (const auto& [id, value] : lp.top) e["top_logprobs"].push_back(token_entry(tokenizer, id, value));
    content.push_back(std::move(e));
  }
  return content;
}

std::shared_ptr<ServedModel> model_of(const Json& body, ServerState& state) {
  return state.models.get(get_string(body, "model").value_or(""));
}

std::shared_ptr<ServedModel> generator_of(const Json& body, ServerState& state) {
  auto m = model_of(body, state);
  if (!m->model)
    throw ApiError(400, "model '" + m->id + "' is an encoder: it serves /v1/embeddings, /tokenize and /detokenize only",
                   "invalid_request_error", "model", "model_not_generative");
  return m;
}

std::vector<int64_t> prompt_ids(const Json& value, const std::string& field, const ServedModel& model) {
  if (value.is_string()) {
    std::vector<int64_t> ids = model.tokenizer->encode(value.get<std::string>(), /*add_special_tokens=*/true);
    if (ids.empty()) throw bad_field(field, "encodes to no tokens");
    return ids;
  }
  // One prompt given in a list (the openai client's shape for one string or one token list).
  if (value.is_array() && value.size() == 1 && (value[0].is_string() || value[0].is_array()))
    return prompt_ids(value[0], field, model);
  if (!value.is_array() || value.empty()) throw bad_field(field, "expected a string or an array of token ids");
  const int64_t vocab = model.config().vocab_size;
  std::vector<int64_t> ids;
  for (const Json& t : value) {
    if (!t.is_number_integer()) throw bad_field(field, "expected a string or an array of token ids, got an array holding " + json_type_name(t));
    const int64_t id = t.get<int64_t>();
    if (id < 0 || id >= vocab) throw bad_field(field, "token id " + std::to_string(id) + " is outside the vocabulary (0.." + std::to_string(vocab - 1) + ")");
    ids.push_back(id);
  }
  return ids;
}

}  // namespace transformers::serving::detail
