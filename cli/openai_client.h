// A small client of OpenAI-compatible servers (`transformers serve`, llama.cpp's server, vLLM)
// over libcurl: /health, v5's /load_model progress events, and streamed chat completions read as
// server-sent events. What `transformers chat` talks through.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <utility>

#include "transformers/io/json.h"

namespace transformers::cli {

struct ChatReply {
  std::string content, reasoning;
  std::string finish_reason;  // "stop", "length", ...; empty when interrupted
  bool interrupted = false;   // `stop` was raised while streaming
};

class OpenAIClient {
 public:
  // base_url: e.g. http://localhost:8000 (a trailing / or /v1 is accepted). api_key: sent as a
  // bearer token when not empty.
  OpenAIClient(std::string base_url, std::string api_key);

  const std::string& base_url() const { return base_; }
  // GET /health answered 200; otherwise false with the reason in `why`.
  bool healthy(std::string& why) const;
  // POST /load_model {"model": id}: calls on_event with each progress event (v5's SSE shape:
  // status, stage, progress{current,total}, message). Returns false when the server has no such
  // endpoint (any OpenAI server but `transformers serve`); IoError when loading fails.
  bool load_model(const std::string& model, const std::function<void(const Json&)>& on_event) const;
  // POST /v1/chat/completions with `request` (stream is set here): calls on_delta(content,
  // reasoning) with each piece as it comes. Raising `stop` ends the transfer at once and returns
  // what came so far (interrupted). IoError naming the status and the server's message on errors.
  ChatReply stream_chat(Json request, const std::function<void(const std::string&, const std::string&)>& on_delta,
                        const std::atomic<bool>& stop) const;

 private:
  std::string base_, api_key_;
};

// One `data:` payload of a streamed chat completion applied to `reply`: returns the new (content,
// reasoning) text; "[DONE]" and usage chunks add nothing. IoError for an error frame
// ({"error": ...}), FormatError for a payload that is not a JSON object.
std::pair<std::string, std::string> apply_chat_chunk(const std::string& data, ChatReply& reply);

// Server-sent events: bytes in, the `data:` payload of each complete event out.
class SseReader {
 public:
  explicit SseReader(std::function<void(const std::string&)> on_data) : on_data_(std::move(on_data)) {}
  void feed(std::string_view bytes);

 private:
  std::string buffer_, data_;
  std::function<void(const std::string&)> on_data_;
};

}  // namespace transformers::cli
