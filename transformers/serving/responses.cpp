// POST /v1/responses: OpenAI's Responses API. `input` (a string or a list of messages / message
// items) and `instructions` (a system message) go through the chat template; the answer is one
// message item with one output_text part, plus a reasoning item when the model reasoned. With
// stream: true, the typed events (response.created ... response.completed, each with a
// sequence_number) as SSE `event:` / `data:` frames.
#include "transformers/serving/api_error.h"
#include "transformers/serving/chat_prompt.h"
#include "transformers/serving/endpoints.h"
#include "transformers/serving/generation_run.h"
#include "transformers/serving/output_parser.h"
#include "transformers/serving/request_fields.h"

namespace transformers::serving {

namespace {
using namespace detail;

OrderedJson input_messages(const OrderedJson& body) {
  OrderedJson messages = OrderedJson::array();
  if (body.contains("instructions") && body["instructions"].is_string())
    messages.push_back({{"role", "system"}, {"content", body["instructions"]}});
  const OrderedJson& input = body["input"];
  if (input.is_string()) {
    messages.push_back({{"role", "user"}, {"content", input}});
    return messages;
  }
  if (!input.is_array()) throw bad_field("input", "expected a string or an array of messages");
  for (const auto& item : input) {
    if (!item.is_object()) throw bad_field("input", "each item must be an object");
    if (item.contains("type") && item["type"] != "message")
      throw bad_field("input", "item type " + item["type"].dump() + " is not supported");
    messages.push_back({{"role", item.value("role", OrderedJson())}, {"content", item.value("content", OrderedJson())}});
  }
  return messages;
}

struct ResponseIds {
  std::string response, message, reasoning;
};

Json message_item(const ResponseIds& ids, const std::string& text, const std::string& status) {
  Json content = Json::array();
  if (status == "completed") content.push_back({{"type", "output_text"}, {"text", text}, {"annotations", Json::array()}});
  return {{"type", "message"}, {"id", ids.message}, {"status", status}, {"role", "assistant"}, {"content", content}};
}

Json reasoning_item(const ResponseIds& ids, const std::string& text) {
  return {{"type", "reasoning"},
          {"id", ids.reasoning},
          {"summary", Json::array()},
          {"content", Json::array({{{"type", "reasoning_text"}, {"text", text}}})}};
}

Json response_object(const ResponseIds& ids, const std::string& model, int64_t created, const std::string& status,
                     Json output, Json usage) {
  return {{"id", ids.response},     {"object", "response"}, {"created_at", created}, {"status", status},
          {"model", model},         {"output", std::move(output)}, {"usage", std::move(usage)},
          {"error", nullptr},       {"incomplete_details", nullptr}, {"instructions", nullptr},
          {"parallel_tool_calls", false}, {"tool_choice", "auto"}, {"tools", Json::array()},
          {"temperature", nullptr}, {"top_p", nullptr}, {"metadata", Json::object()}};
}

Json responses_usage(int64_t in, int64_t out) {
  return {{"input_tokens", in},
          {"output_tokens", out},
          {"total_tokens", in + out},
          {"input_tokens_details", {{"cached_tokens", 0}}},
          {"output_tokens_details", {{"reasoning_tokens", 0}}}};
}

class ResponseStream : public EventStream {
 public:
  ResponseStream(const Request& request, std::shared_ptr<ServedModel> model, const ChatPrompt& prompt,
                 const SamplingRequest& sampling)
      : ids_{request.id, "msg_" + request.id, "rs_" + request.id}, model_id_(model->id),
        run_(std::move(model), prompt.ids, sampling), parser_(prompt.opens_reasoning, false), created_(unix_time()) {}

  bool next(const std::function<bool(std::string_view)>& write) override {
    if (!started_) {
      started_ = true;
      const Json r = response_object(ids_, model_id_, created_, "in_progress", Json::array(), nullptr);
      return send(write, "response.created", {{"response", r}}) && send(write, "response.in_progress", {{"response", r}}) &&
             send(write, "response.output_item.added", {{"output_index", 0}, {"item", message_item(ids_, "", "in_progress")}}) &&
             send(write, "response.content_part.added", {{"item_id", ids_.message}, {"output_index", 0}, {"content_index", 0},
                                                         {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", Json::array()}}}});
    }
    TextStep step = run_.next(std::chrono::milliseconds(200));
    if (!step.finished && step.text.empty()) return write(": keep-alive\n\n");
    ParsedText parsed = parser_.feed(step.text);
    if (step.finished) parsed.append(parser_.finish());
    reasoning_ += parsed.reasoning;
    if (!parsed.reasoning.empty() &&
        !send(write, "response.reasoning_text.delta", {{"item_id", ids_.reasoning}, {"output_index", 0}, {"content_index", 0}, {"delta", parsed.reasoning}}))
      return false;
    if (!parsed.content.empty()) {
      text_ += parsed.content;
      if (!send(write, "response.output_text.delta", {{"item_id", ids_.message}, {"output_index", 0}, {"content_index", 0},
                                                      {"delta", parsed.content}, {"logprobs", Json::array()}}))
        return false;
    }
    if (!step.finished) return true;
    const Json part = {{"type", "output_text"}, {"text", text_}, {"annotations", Json::array()}};
    const Json item = message_item(ids_, text_, "completed");
    Json output = Json::array();
    if (!reasoning_.empty()) output.push_back(reasoning_item(ids_, reasoning_));
    output.push_back(item);
    send(write, "response.output_text.done", {{"item_id", ids_.message}, {"output_index", 0}, {"content_index", 0}, {"text", text_}, {"logprobs", Json::array()}}) &&
        send(write, "response.content_part.done", {{"item_id", ids_.message}, {"output_index", 0}, {"content_index", 0}, {"part", part}}) &&
        send(write, "response.output_item.done", {{"output_index", 0}, {"item", item}}) &&
        send(write, "response.completed", {{"response", response_object(ids_, model_id_, created_, "completed", output,
                                                                          responses_usage(run_.prompt_tokens(), run_.completion_tokens()))}});
    return false;
  }

 private:
  bool send(const std::function<bool(std::string_view)>& write, const std::string& type, Json event) {
    event["type"] = type;
    event["sequence_number"] = sequence_++;
    return write(sse_event(type, event));
  }

  ResponseIds ids_;
  std::string model_id_;
  GenerationRun run_;
  OutputParser parser_;
  int64_t created_;
  bool started_ = false;
  int64_t sequence_ = 0;
  std::string text_, reasoning_;
};
}  // namespace

Reply responses(const Request& request, ServerState& state) {
  auto model = generator_of(request.body, state);
  if (!request.body.contains("input") || request.body["input"].is_null()) throw bad_field("input", "is required");
  get_string(request.body, "instructions");  // type check
  const SamplingRequest sampling = parse_sampling(request.body, *model, state.limits, {"max_output_tokens"});
  const OrderedJson ordered = parse_ordered_json(request.text, "request body");
  const ChatPrompt prompt = render_chat(*model, input_messages(ordered), nullptr, request.body, state, "input");
  if (get_bool(request.body, "stream").value_or(false))
    return Reply::sse(std::make_unique<ResponseStream>(request, model, prompt, sampling));
  GenerationRun run(model, prompt.ids, sampling);
  const TextStep all = run.collect();
  OutputParser parser(prompt.opens_reasoning, false);
  ParsedText parsed = parser.feed(all.text);
  parsed.append(parser.finish());
  const ResponseIds ids{request.id, "msg_" + request.id, "rs_" + request.id};
  Json output = Json::array();
  if (!parsed.reasoning.empty()) output.push_back(reasoning_item(ids, parsed.reasoning));
  output.push_back(message_item(ids, parsed.content, "completed"));
  return Reply::json(response_object(ids, model->id, unix_time(), "completed", output,
                                  responses_usage(run.prompt_tokens(), run.completion_tokens())));
}

}  // namespace transformers::serving
