// POST /v1/chat/completions: OpenAI's chat.completion / chat.completion.chunk shapes, with v5's
// reasoning_content and tool_calls parsed from the output.
#include "transformers/serving/api_error.h"
#include "transformers/serving/chat_prompt.h"
#include "transformers/serving/endpoints.h"
#include "transformers/serving/generation_run.h"
#include "transformers/serving/output_parser.h"
#include "transformers/serving/request_fields.h"

namespace transformers::serving {

namespace {
using namespace detail;

Json tool_calls_json(const std::string& request_id, const std::vector<ToolCall>& calls, size_t first_index, bool stream) {
  Json out = Json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    Json c = {{"id", request_id + "_tool_call_" + std::to_string(first_index + i)},
              {"type", "function"},
              {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}};
    if (stream) c["index"] = first_index + i;
    out.push_back(std::move(c));
  }
  return out;
}

struct ChatSetup {
  std::shared_ptr<ServedModel> model;
  ChatPrompt prompt;
  SamplingRequest sampling;
  bool stream = false, include_usage = false;
};

ChatSetup setup_chat(const Request& request, ServerState& state) {
  ChatSetup s;
  s.model = generator_of(request.body, state);
  s.stream = get_bool(request.body, "stream").value_or(false);
  s.include_usage = stream_include_usage(request.body);
  if (auto format = get_object(request.body, "response_format")) {
    const auto type = get_string(*format, "type");
    if (type && *type != "text") throw bad_field("response_format", "only {\"type\": \"text\"} is supported");
  }
  s.sampling = parse_sampling(request.body, *s.model, state.limits, {"max_completion_tokens", "max_tokens"});
  if (!request.body.contains("messages")) throw bad_field("messages", "is required");
  get_array(request.body, "messages");  // the type check names the field
  if (request.body.contains("tools")) get_array(request.body, "tools");
  const OrderedJson ordered = parse_ordered_json(request.text, "request body");
  const OrderedJson* tools = ordered.contains("tools") ? &ordered["tools"] : nullptr;
  s.prompt = render_chat(*s.model, ordered["messages"], tools, request.body, state, "messages");
  return s;
}

class ChatStream : public EventStream {
 public:
  ChatStream(const Request& request, ChatSetup setup)
      : id_(request.id), setup_(std::move(setup)),
        run_(setup_.model, setup_.prompt.ids, setup_.sampling),
        parser_(setup_.prompt.opens_reasoning, setup_.prompt.has_tools), created_(unix_time()) {}

  bool next(const std::function<bool(std::string_view)>& write) override {
    if (!started_) {
      started_ = true;
      return write(sse_frame(chunk({{"role", "assistant"}, {"content", ""}}, nullptr)));
    }
    TextStep step = run_.next(std::chrono::milliseconds(200));
    if (!step.finished && step.text.empty() && step.logprobs.empty())
      return write(": keep-alive\n\n");  // also how a vanished client is noticed while waiting
    ParsedText parsed = parser_.feed(step.text);
    if (step.finished) parsed.append(parser_.finish());
    if (!parsed.empty() || !step.logprobs.empty()) {
      Json delta = Json::object();
      if (!parsed.content.empty() || parsed.reasoning.empty()) delta["content"] = parsed.content;
      if (!parsed.reasoning.empty()) delta["reasoning_content"] = parsed.reasoning;
      if (!parsed.tool_calls.empty()) {
        delta["tool_calls"] = tool_calls_json(id_, parsed.tool_calls, tool_calls_sent_, true);
        tool_calls_sent_ += parsed.tool_calls.size();
      }
      Json logprobs = nullptr;
      if (setup_.sampling.top_logprobs >= 0)
        logprobs = {{"content", logprobs_content(*setup_.model->tokenizer, step.logprobs)}};
      if (!write(sse_frame(chunk(delta, nullptr, logprobs)))) return false;
    }
    if (!step.finished) return true;
    const std::string reason = tool_calls_sent_ > 0 ? "tool_calls" : step.finish_reason;
    if (!write(sse_frame(chunk(Json::object(), reason)))) return false;
    end_stream(write, chunk_base(), setup_.include_usage ? usage_json(run_.prompt_tokens(), run_.completion_tokens()) : Json());
    return false;
  }

 private:
  Json chunk_base() const {
    return {{"id", id_}, {"object", "chat.completion.chunk"}, {"created", created_}, {"model", setup_.model->id},
            {"system_fingerprint", nullptr}};
  }
  Json chunk(Json delta, Json finish_reason, Json logprobs = nullptr) const {
    Json c = chunk_base();
    c["choices"] = Json::array({{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", std::move(logprobs)},
                                 {"finish_reason", std::move(finish_reason)}}});
    return c;
  }

  std::string id_;
  ChatSetup setup_;
  GenerationRun run_;
  OutputParser parser_;
  int64_t created_;
  bool started_ = false;
  size_t tool_calls_sent_ = 0;
};
}  // namespace

Reply chat_completions(const Request& request, ServerState& state) {
  ChatSetup setup = setup_chat(request, state);
  if (setup.stream) return Reply::sse(std::make_unique<ChatStream>(request, std::move(setup)));
  GenerationRun run(setup.model, setup.prompt.ids, setup.sampling);
  TextStep all = run.collect();
  OutputParser parser(setup.prompt.opens_reasoning, setup.prompt.has_tools);
  ParsedText parsed = parser.feed(all.text);
  parsed.append(parser.finish());
  Json message = {{"role", "assistant"}, {"content", parsed.content}};
  if (!parsed.reasoning.empty()) message["reasoning_content"] = parsed.reasoning;
  if (!parsed.tool_calls.empty()) message["tool_calls"] = tool_calls_json(request.id, parsed.tool_calls, 0, false);
  Json logprobs = nullptr;
  if (setup.sampling.top_logprobs >= 0) logprobs = {{"content", logprobs_content(*setup.model->tokenizer, all.logprobs)}};
  const std::string reason = parsed.tool_calls.empty() ? all.finish_reason : "tool_calls";
  Json choice = {{"index", 0}, {"message", message}, {"logprobs", logprobs}, {"finish_reason", reason}};
  return Reply::json({{"id", request.id},
                   {"object", "chat.completion"},
                   {"created", unix_time()},
                   {"model", setup.model->id},
                   {"system_fingerprint", nullptr},
                   {"choices", Json::array({choice})},
                   {"usage", usage_json(run.prompt_tokens(), run.completion_tokens())}});
}

}  // namespace transformers::serving
