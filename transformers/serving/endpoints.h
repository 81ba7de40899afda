// The endpoints, free of HTTP details: each takes the request (its id, its parsed body) and the
// server's shared state and answers a JSON body or an event stream that the server writes as SSE.
// They throw ApiError (or a library Error: 400, CapacityError: 429) for what the client got wrong.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "transformers/io/json.h"
#include "transformers/serving/model_store.h"
#include "transformers/serving/sampling.h"

namespace transformers::serving {

struct ServerState {
  ModelStore& models;
  SamplingLimits limits;
  Json chat_template_kwargs = Json::object();  // --chat-template-kwargs and --reasoning
};

// Frames of an SSE response, produced a few at a time so that a vanished client is noticed
// between them.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // Writes the next frames with `write` (false: the client is gone, stop at once); returns
  // false after the last frame.
  virtual bool next(const std::function<bool(std::string_view)>& write) = 0;
};

struct Reply {
  Json body;                            // when not streaming
  std::unique_ptr<EventStream> stream;  // when streaming
  static Reply json(Json body) { return {std::move(body), nullptr}; }
  static Reply sse(std::unique_ptr<EventStream> stream) { return {Json(), std::move(stream)}; }
};

struct Request {
  std::string id;    // X-Request-ID (echoed or made): the response id
  std::string text;  // the raw body (messages are re-read in order from it)
  Json body;         // the parsed body (an object)
};

Reply chat_completions(const Request& request, ServerState& state);
Reply completions(const Request& request, ServerState& state);
Reply responses(const Request& request, ServerState& state);
Reply embeddings(const Request& request, ServerState& state);
Reply load_model(const Request& request, ServerState& state);  // SSE progress, as v5
Json list_models(ServerState& state);
Json tokenize(const Request& request, ServerState& state);
Json detokenize(const Request& request, ServerState& state);

// Shared by the endpoints.
namespace detail {
int64_t unix_time();
std::string sse_frame(const Json& data);                              // "data: {...}\n\n"
std::string sse_event(const std::string& event, const Json& data);  // "event: name\ndata: {...}\n\n"
Json usage_json(int64_t prompt_tokens, int64_t completion_tokens);
// Whether the request's stream_options.include_usage asks for a usage chunk.
bool stream_include_usage(const Json& body);
// The end of a streamed chat completion or completion: when `usage` is not null, `chunk` (the
// stream's id, object, created, model) with `choices: []` and that usage, then `data: [DONE]`.
void end_stream(const std::function<bool(std::string_view)>& write, Json chunk, Json usage);
// OpenAI's logprobs.content entries: token text, logprob, bytes, top_logprobs.
Json logprobs_content(const Tokenizer& tokenizer, const std::vector<TokenLogprob>& logprobs);
std::shared_ptr<ServedModel> model_of(const Json& body, ServerState& state);
// The same for the generating endpoints: 400 when the model is an encoder.
std::shared_ptr<ServedModel> generator_of(const Json& body, ServerState& state);
// Token ids of a "prompt"/"input" that is a string or an array of token ids.
std::vector<int64_t> prompt_ids(const Json& value, const std::string& field, const ServedModel& model);
}  // namespace detail

}  // namespace transformers::serving
