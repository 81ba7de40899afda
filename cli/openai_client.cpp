#include "cli/openai_client.h"

#include <curl/curl.h>

#include <exception>
#include <memory>

namespace transformers::cli {

namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;  // an error page is read this far, no further
constexpr size_t kMaxEventBytes = 16 << 20;  // one SSE event; more is a broken server

struct CurlHandle {
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  ~CurlHandle() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
  }
};

struct Transfer {
  std::function<void(std::string_view)> on_bytes;
  const std::atomic<bool>* stop = nullptr;
  std::string error_body;  // kept when the status is not 2xx
  long status = 0;
  CURL* curl = nullptr;
  std::exception_ptr failure;  // thrown by on_bytes: carried past libcurl's C frames, rethrown after
};

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view bytes(data, size * count);
  if (t->status == 0) curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
  if (t->status >= 300) {
    t->error_body.append(bytes.substr(0, kMaxErrorBody - std::min(kMaxErrorBody, t->error_body.size())));
  } else if (t->on_bytes) {
    try {
      t->on_bytes(bytes);
    } catch (...) {
      t->failure = std::current_exception();
      return 0;  // aborts the transfer
    }
  }
  return bytes.size();
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* t = static_cast<Transfer*>(user);
  return t->stop && t->stop->load() ? 1 : 0;  // non-zero aborts the transfer
}

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
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  TCPP_CHECK(initialised, IoError, "libcurl failed to initialise");
}

namespace {

// One request; returns the status. body empty: GET.
long perform(const std::string& url, const std::string& api_key, const std::string* body, Transfer& t,
             long timeout_seconds) {
  CurlHandle h;
  TCPP_CHECK(h.curl, IoError, "libcurl: no handle");
  t.curl = h.curl;
  curl_easy_setopt(h.curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h.curl, CURLOPT_CONNECTTIMEOUT, 10L);
  if (timeout_seconds > 0) curl_easy_setopt(h.curl, CURLOPT_TIMEOUT, timeout_seconds);
  curl_easy_setopt(h.curl, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h.curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h.curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h.curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h.curl, CURLOPT_XFERINFODATA, &t);
  if (body) {
    h.headers = curl_slist_append(h.headers, "Content-Type: application/json");
    curl_easy_setopt(h.curl, CURLOPT_POSTFIELDS, body->c_str());
    curl_easy_setopt(h.curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  h.headers = curl_slist_append(h.headers, "Accept: text/event-stream, application/json");
  const std::string auth = "Authorization: Bearer " + api_key;
  if (!api_key.empty()) h.headers = curl_slist_append(h.headers, auth.c_str());
  curl_easy_setopt(h.curl, CURLOPT_HTTPHEADER, h.headers);
  const CURLcode rc = curl_easy_perform(h.curl);
  curl_easy_getinfo(h.curl, CURLINFO_RESPONSE_CODE, &t.status);
  if (t.failure) std::rethrow_exception(t.failure);
  if (rc == CURLE_ABORTED_BY_CALLBACK) return t.status;
  TCPP_CHECK(rc == CURLE_OK, IoError, url, ": ", curl_easy_strerror(rc));
  return t.status;
}

}  // namespace

bool OpenAIClient::healthy(std::string& why) const {
  Transfer t;
  try {
    const long status = perform(base_ + "/health", api_key_, nullptr, t, 10);
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
  Transfer t;
  t.on_bytes = [&](std::string_view b) { sse.feed(b); };
  const std::string body = Json{{"model", model}}.dump();
  const long status = perform(base_ + "/load_model", api_key_, &body, t, 0);
  if (status == 404 || status == 405) return false;
  TCPP_CHECK(status < 300, IoError, "/load_model ", model, ": HTTP ", status, ": ", error_message(t.error_body));
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
  Transfer t;
  t.stop = &stop;
  t.on_bytes = [&](std::string_view b) { sse.feed(b); };
  const std::string body = request.dump();
  const long status = perform(base_ + "/v1/chat/completions", api_key_, &body, t, 0);
  reply.interrupted = stop.load();
  TCPP_CHECK(reply.interrupted || status < 300, IoError, "/v1/chat/completions: HTTP ", status, ": ",
             error_message(t.error_body));
  return reply;
}

}  // namespace transformers::cli
