// Streamers (v5 generation/streamers.py). generate() calls put() once with the prompt, then once
// per step with the new token(s), then end(). Like v5's, the text streamers take batch size 1.
//
// TextStreamer follows v5's algorithm: it re-decodes the tokens of the current line at every
// step and prints up to the last space (a whole line at a newline, at once after a CJK
// character), so words appear as they complete and a word's spelling can still change while its
// tokens arrive. TextIteratorStreamer hands the same pieces to another thread through a queue.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "transformers/generation/stopping_criteria.h"  // TokenDecoder

namespace transformers {

class BaseStreamer {
 public:
  virtual ~BaseStreamer() = default;
  virtual void put(const std::vector<int64_t>& tokens) = 0;
  virtual void end() = 0;
};

class TextStreamer : public BaseStreamer {
 public:
  // decode: the tokenizer's decode with the options wanted (e.g. skip_special_tokens).
  TextStreamer(TokenDecoder decode, bool skip_prompt = false, std::ostream* out = nullptr);
  void put(const std::vector<int64_t>& tokens) override;
  void end() override;

 protected:
  // Receives each finished piece; prints it to the stream (a newline after the last piece).
  virtual void on_finalized_text(const std::string& text, bool stream_end);

 private:
  TokenDecoder decode_;
  bool skip_prompt_;
  std::ostream* out_;
  std::vector<int64_t> token_cache_;
  size_t print_len_ = 0;
  bool next_tokens_are_prompt_ = true;
};

class TextIteratorStreamer : public TextStreamer {
 public:
  // timeout: how long next() waits for a piece before raising (none: forever).
  explicit TextIteratorStreamer(TokenDecoder decode, bool skip_prompt = false,
                                std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // The next piece of text, or nullopt once generation ended. Throws Error on timeout.
  std::optional<std::string> next();

 protected:
  void on_finalized_text(const std::string& text, bool stream_end) override;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::optional<std::string>> queue_;  // nullopt: the stop signal
  std::optional<std::chrono::milliseconds> timeout_;
};

}  // namespace transformers
