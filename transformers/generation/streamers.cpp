#include "transformers/generation/streamers.h"

#include <iostream>

#include "transformers/core/error.h"

namespace transformers {
namespace {

// The code point that ends `text` (UTF-8), or 0.
uint32_t last_code_point(const std::string& text) {
  if (text.empty()) return 0;
  size_t i = text.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data() + i);
  const size_t n = text.size() - i;
  if (p[0] < 0x80) return p[0];
  if ((p[0] & 0xE0) == 0xC0 && n == 2) return ((p[0] & 0x1F) << 6) | (p[1] & 0x3F);
  if ((p[0] & 0xF0) == 0xE0 && n == 3) return ((p[0] & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  if ((p[0] & 0xF8) == 0xF0 && n == 4)
    return ((p[0] & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
  return 0;
}

// v5's TextStreamer._is_chinese_char: the CJK Unified Ideographs blocks.
bool is_cjk(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace

TextStreamer::TextStreamer(TokenDecoder decode, bool skip_prompt, std::ostream* out)
    : decode_(std::move(decode)), skip_prompt_(skip_prompt), out_(out ? out : &std::cout) {
  TCPP_CHECK(decode_, ValueError, "TextStreamer needs a decoder (e.g. token_decoder(tokenizer))");
}

void TextStreamer::put(const std::vector<int64_t>& tokens) {
  if (skip_prompt_ && next_tokens_are_prompt_) {
    next_tokens_are_prompt_ = false;
    return;
  }
  next_tokens_are_prompt_ = false;
  token_cache_.insert(token_cache_.end(), tokens.begin(), tokens.end());
  const std::string text = decode_(token_cache_);
  std::string printable;
  if (!text.empty() && text.back() == '\n') {
    printable = text.substr(std::min(print_len_, text.size()));
    token_cache_.clear();
    print_len_ = 0;
  } else if (is_cjk(last_code_point(text))) {
    printable = text.substr(std::min(print_len_, text.size()));
    print_len_ += printable.size();
  } else {
    const size_t space = text.rfind(' ');
    const size_t upto = space == std::string::npos ? 0 : space + 1;
    if (upto > print_len_) printable = text.substr(print_len_, upto - print_len_);
    print_len_ += printable.size();
  }
  on_finalized_text(printable, false);
}

void TextStreamer::end() {
  std::string printable;
  if (!token_cache_.empty()) {
    const std::string text = decode_(token_cache_);
    printable = text.substr(std::min(print_len_, text.size()));
    token_cache_.clear();
    print_len_ = 0;
  }
  next_tokens_are_prompt_ = true;
  on_finalized_text(printable, true);
}

void TextStreamer::on_finalized_text(const std::string& text, bool stream_end) {
  *out_ << text;
  if (stream_end) *out_ << "\n";
  out_->flush();
}

TextIteratorStreamer::TextIteratorStreamer(TokenDecoder decode, bool skip_prompt,
                                           std::optional<std::chrono::milliseconds> timeout)
    : TextStreamer(std::move(decode), skip_prompt), timeout_(timeout) {}

void TextIteratorStreamer::on_finalized_text(const std::string& text, bool stream_end) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!text.empty()) queue_.push_back(text);
    if (stream_end) queue_.push_back(std::nullopt);
  }
  cv_.notify_all();
}

std::optional<std::string> TextIteratorStreamer::next() {
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [&] { return !queue_.empty(); };
  if (timeout_) {
    TCPP_CHECK(cv_.wait_for(lock, *timeout_, ready), Error, "TextIteratorStreamer: no text within the timeout");
  } else {
    cv_.wait(lock, ready);
  }
  std::optional<std::string> piece = std::move(queue_.front());
  queue_.pop_front();
  return piece;
}

}  // namespace transformers
