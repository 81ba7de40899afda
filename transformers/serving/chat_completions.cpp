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
  s.sampling = parse_sampling(request.body, *s.model, state.limits, {"max_completion_tokens", "max_tokens"});
  if (auto format = get_object(request.body, "response_format")) {
    const auto type = get_string(*format, "type");
    if (type == "json_object") s.sampling.json_object = true;
    else if (type && *type != "text")
      throw bad_field("response_format", "type must be \"text\" or \"json_object\" (json_schema is not supported)");
  }
  if (!request.body.contains("messages")) throw bad_field("messages", "is required");
  get_array(request.body, "messages");  // the type check names the field
  if (request.body.contains("tools")) get_array(request.body, "tools");
  const OrderedJson ordered = parse_ordered_json(request.text, "request body");
  const OrderedJson* tools = ordered.contains("tools") ? &ordered["tools"] : nullptr;
  s.prompt = render_chat(*s.model, ordered["messages"], tools, request.body, state, "messages");
  return s;
}

// One choice of a request: its run and the parser of its text.
struct ChatChoice {
  ChatChoice(std::unique_ptr<GenerationRun> r, const ChatPrompt& prompt)
      : run(std::move(r)), parser(prompt.opens_reasoning, prompt.has_tools) {}
  std::unique_ptr<GenerationRun> run;
  OutputParser parser;
  size_t tool_calls_sent = 0;
};

std::vector<ChatChoice> start_chat_choices(const ChatSetup& setup) {
  std::vector<ChatChoice> choices;
  for (auto& run : start_choices(setup.model, setup.prompt.ids, setup.sampling))
    choices.emplace_back(std::move(run), setup.prompt);
  return choices;
}

int64_t completion_tokens(const std::vector<ChatChoice>& choices) {
  int64_t n = 0;
  for (const auto& c : choices) n += c.run->completion_tokens();
  return n;
}

class ChatStream : public EventStream {
 public:
  ChatStream(const Request& request, ChatSetup setup)
      : id_(request.id), setup_(std::move(setup)), choices_(start_chat_choices(setup_)), cursor_(choices_.size()),
        created_(unix_time()) {}

  bool next(const std::function<bool(std::string_view)>& write) override {
    if (!started_) {
      started_ = true;
      for (size_t i = 0; i < choices_.size(); ++i)
        if (!write(sse_frame(chunk(i, {{"role", "assistant"}, {"content", ""}}, nullptr)))) return false;
      return true;
    }
    const size_t i = cursor_.next();
    ChatChoice& c = choices_[i];
    TextStep step = c.run->next(std::chrono::milliseconds(200));
    if (!step.finished && step.text.empty() && step.logprobs.empty())
      return write(": keep-alive\n\n");  // also how a vanished client is noticed while waiting
    ParsedText parsed = c.parser.feed(step.text);
    if (step.finished) parsed.append(c.parser.finish());
    if (!parsed.empty() || !step.logprobs.empty()) {
      Json delta = Json::object();
      if (!parsed.content.empty() || parsed.reasoning.empty()) delta["content"] = parsed.content;
      if (!parsed.reasoning.empty()) delta["reasoning_content"] = parsed.reasoning;
      if (!parsed.tool_calls.empty()) {
        delta["tool_calls"] = tool_calls_json(id_, parsed.tool_calls, c.tool_calls_sent, true);
        c.tool_calls_sent += parsed.tool_calls.size();
      }
      Json logprobs = nullptr;
      if (setup_.sampling.top_logprobs >= 0)
        logprobs = {{"content", logprobs_content(*setup_.model->tokenizer, step.logprobs)}};
      if (!write(sse_frame(chunk(i, delta, nullptr, logprobs)))) return false;
    }
    if (!step.finished) return true;
    cursor_.finish(i);
    const std::string reason = c.tool_calls_sent > 0 ? "tool_calls" : step.finish_reason;
    if (!write(sse_frame(chunk(i, Json::object(), reason)))) return false;
    if (!cursor_.all_done()) return true;
    end_stream(write, chunk_base(),
               setup_.include_usage ? usage_json(choices_[0].run->prompt_tokens(), completion_tokens(choices_)) : Json());
    return false;
  }

 private:
  Json chunk_base() const {
    return {{"id", id_}, {"object", "chat.completion.chunk"}, {"created", created_}, {"model", setup_.model->id},
            {"system_fingerprint", nullptr}};
  }
  Json chunk(size_t index, Json delta, Json finish_reason, Json logprobs = nullptr) const {
    Json c = chunk_base();
    c["choices"] = Json::array({{{"index", index}, {"delta", std::move(delta)}, {"logprobs", std::move(logprobs)},
                                 {"finish_reason", std::move(finish_reason)}}});
    return c;
  }

  std::string id_;
  ChatSetup setup_;
  std::vector<ChatChoice> choices_;
  ChoiceCursor cursor_;
  int64_t created_;
  bool started_ = false;
};
}  // namespace

Reply chat_completions(const Request& request, ServerState& state) {
  ChatSetup setup = setup_chat(request, state);
  if (setup.stream) return Reply::sse(std::make_unique<ChatStream>(request, std::move(setup)));
  std::vector<ChatChoice> choices = start_chat_choices(setup);
  Json out_choices = Json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    ChatChoice& c = choices[i];
    TextStep all = c.run->collect();
    ParsedText parsed = c.parser.feed(all.text);
    parsed.append(c.parser.finish());
    Json message = {{"role", "assistant"}, {"content", parsed.content}};
    if (!parsed.reasoning.empty()) message["reasoning_content"] = parsed.reasoning;
    if (!parsed.tool_calls.empty()) message["tool_calls"] = tool_calls_json(request.id, parsed.tool_calls, 0, false);
    Json logprobs = nullptr;
    if (setup.sampling.top_logprobs >= 0)
      logprobs = {{"content", logprobs_content(*setup.model->tokenizer, all.logprobs)}};
    const std::string reason = parsed.tool_calls.empty() ? all.finish_reason : "tool_calls";
    out_choices.push_back({{"index", i}, {"message", message}, {"logprobs", logprobs}, {"finish_reason", reason}});
  }
  return Reply::json({{"id", request.id},
                      {"object", "chat.completion"},
                      {"created", unix_time()},
                      {"model", setup.model->id},
                      {"system_fingerprint", nullptr},
                      {"choices", std::move(out_choices)},
                      {"usage", usage_json(choices[0].run->prompt_tokens(), completion_tokens(choices))}});
}

}  // namespace transformers::serving
