#include "cli/openai_client.h"

#include <algorithm>

#include "transformers/hub/download/http.h"

namespace transformers::cli {

namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;  // an error page is read this far, no further
constexpr size_t kMaxEventBytes = 16 << 20;  // one SSE event; more is a broken server

// The server's message from an OpenAI-shaped error body ({"error": {"message": ...}} or
// {"error": "..."}), else the body itself, shortened.
std::string error_message(const std::string& body) {
  try {
    const Json j = parse_json(body, "error body");
    if (j.contains("error")) {
      const Json& e = j["error"];
      if (e.is_string()) return e.get<std::string>();
      if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
    }
  } catch (const Error&) {
  }
  return body.substr(0, 200);
}

}  // namespace

void SseReader::feed(std::string_view bytes) {
  buffer_.append(bytes);
  size_t start = 0;
  while (true) {
    const size_t nl = buffer_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string line = buffer_.substr(start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {  // the blank line ends an event
      if (!data_.empty()) on_data_(data_);
      data_.clear();
    } else if (line.rfind("data:", 0) == 0) {
      std::string_view payload = std::string_view(line).substr(5);
      if (!payload.empty() && payload.front() == ' ') payload.remove_prefix(1);
      if (!data_.empty()) data_ += '\n';
      data_ += payload;
    }  // event:, id:, retry: and comments carry nothing a chat needs
  }
  buffer_.erase(0, start);
  TCPP_CHECK(buffer_.size() + data_.size() <= kMaxEventBytes, IoError, "server-sent event larger than ",
             kMaxEventBytes, " bytes");
}

std::pair<std::string, std::string> apply_chat_chunk(const std::string& data, ChatReply& reply) {
  if (data == "[DONE]") return {};
  const Json chunk = parse_json(data, "chat completion chunk");
  TCPP_CHECK(chunk.is_object(), FormatError, "chat completion chunk: not a JSON object");
  TCPP_CHECK(!chunk.contains("error"), IoError, "/v1/chat/completions: ", error_message(data));
  if (!chunk.contains("choices") || !chunk["choices"].is_array() || chunk["choices"].empty()) return {};  // usage
  const Json& choice = chunk["choices"][0];
  if (!choice.is_object()) return {};
  std::string content, reasoning;
  if (choice.contains("delta") && choice["delta"].is_object()) {
    const Json& d = choice["delta"];
    if (d.contains("content") && d["content"].is_string()) content = d["content"].get<std::string>();
    if (d.contains("reasoning_content") && d["reasoning_content"].is_string())
      reasoning = d["reasoning_content"].get<std::string>();
  }
  if (choice.contains("finish_reason") && choice["finish_reason"].is_string())
    reply.finish_reason = choice["finish_reason"].get<std::string>();
  reply.content += content;
  reply.reasoning += reasoning;
  return {content, reasoning};
}

OpenAIClient::OpenAIClient(std::string base_url, std::string api_key) : base_(std::move(base_url)), api_key_(std::move(api_key)) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  if (base_.size() >= 3 && base_.compare(base_.size() - 3, 3, "/v1") == 0) base_.resize(base_.size() - 3);
  TCPP_CHECK(base_.rfind("http://", 0) == 0 || base_.rfind("https://", 0) == 0, ValueError, "base URL '", base_,
             "' must start with http:// or https://");
}

namespace {

struct Interrupted {};  // thrown from the progress callback to end a transfer at once

// One request over the Hub's HTTP client (body null: GET). 2xx bodies go to on_bytes as they
// come; other statuses keep their body (64 KiB at most) in error_body. Raising `stop` ends the
// transfer within about a second even while the server is silent (a long prefill); returns -1
// then.
long perform(const std::string& url, const std::string& api_key, const std::string* body,
             const std::function<void(std::string_view)>& on_bytes, std::string& error_body,
             const std::atomic<bool>* stop) {
  hub::HttpRequest r;
  r.url = url;
  r.bearer_token = api_key;
  if (body) r.post_body = *body;
  r.accept = "text/event-stream, application/json";
  r.low_speed_seconds = 0;  // a model may think for long before its first token
  r.on_body = [&](const hub::HttpResponse& response, const char* data, size_t n) {
    if (response.status >= 300) {
      error_body.append(data, std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, error_body.size())));
    } else if (on_bytes) {
      on_bytes(std::string_view(data, n));
    }
    return true;
  };
  r.on_progress = [stop](uint64_t, uint64_t) {
    if (stop && stop->load()) throw Interrupted{};
  };
  try {
    return hub::http_request(r).status;
  } catch (const Interrupted&) {
    return -1;
  }
}

}  // namespace

bool OpenAIClient::healthy(std::string& why) const {
  std::string error_body;
  try {
    const long status = perform(base_ + "/health", api_key_, nullptr, {}, error_body, nullptr);
    if (status == 200) return true;
    why = "GET /health answered " + std::to_string(status);
  } catch (const Error& e) {
    why = e.what();
  }
  return false;
}

bool OpenAIClient::load_model(const std::string& model, const std::function<void(const Json&)>& on_event) const {
  std::string failure;
  SseReader sse([&](const std::string& data) {
    const Json event = parse_json(data, "/load_model event");
    if (event.value("status", "") == "error") failure = event.value("message", "loading failed");
    on_event(event);
  });
  std::string error_body;
  const std::string body = Json{{"model", model}}.dump();
  const long status = perform(base_ + "/load_model", api_key_, &body, [&](std::string_view b) { sse.feed(b); },
                              error_body, nullptr);
  // No such route (any OpenAI server but `transformers serve`); a 404 that names the model is a
  // missing model, an error.
  const bool no_model = status == 404 && error_body.find("\"model_not_found\"") != std::string::npos;
  if ((status == 404 && !no_model) || status == 405) return false;
  TCPP_CHECK(status < 300, IoError, "/load_model ", model, ": HTTP ", status, ": ", error_message(error_body));
  TCPP_CHECK(failure.empty(), IoError, "/load_model ", model, ": ", failure);
  return true;
}

ChatReply OpenAIClient::stream_chat(Json request,
                                    const std::function<void(const std::string&, const std::string&)>& on_delta,
                                    const std::atomic<bool>& stop) const {
  request["stream"] = true;
  ChatReply reply;
  SseReader sse([&](const std::string& data) {
    const auto [content, reasoning] = apply_chat_chunk(data, reply);
    if (!content.empty() || !reasoning.empty()) on_delta(content, reasoning);
  });
  std::string error_body;
  const std::string body = request.dump();
  const long status = perform(base_ + "/v1/chat/completions", api_key_, &body, [&](std::string_view b) { sse.feed(b); },
                              error_body, &stop);
  reply.interrupted = status == -1;
  TCPP_CHECK(reply.interrupted || status < 300, IoError, "/v1/chat/completions: HTTP ", status, ": ",
             error_message(error_body));
  return reply;
}

}  // namespace transformers::cli
