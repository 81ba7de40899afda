// Constrained decoding to one JSON object (OpenAI's response_format {"type": "json_object"}): a
// byte-level recogniser of JSON-object prefixes, and a logits processor that masks every token
// whose text cannot continue the output as such a prefix, and the end-of-sequence tokens until
// the object is complete. Tokens are judged by their text alone (tokenizer.decode([id])).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/generation/logits_processors.h"

namespace transformers {

// What has been read of a JSON text whose top level is an object (RFC 8259 grammar).
class JsonObjectPrefix {
 public:
  static constexpr size_t kMaxDepth = 32;      // nested objects/arrays
  static constexpr int kMaxWhitespaceRun = 16;  // consecutive whitespace between tokens

  // Reads one byte; false (and the state unchanged) when it cannot continue a JSON-object prefix.
  bool feed(unsigned char c);
  bool feed(std::string_view text);  // all or nothing
  // Whether `text` would be read whole (the state unchanged either way): one copy, for the
  // per-token check over the vocabulary.
  bool accepts(std::string_view text) const;
  // The object is closed (only whitespace may follow).
  bool complete() const { return mode_ == Mode::kDone; }

 private:
  enum class Mode : uint8_t {
    kStart, kObjectOpen, kKey, kColon, kValue, kArrayOpen, kAfterValue, kString, kEscape, kHex,
    kNumberSign, kNumberZero, kNumberInt, kNumberDot, kNumberFrac, kNumberExp, kNumberExpSign, kNumberExpDigits,
    kLiteral, kDone
  };
  bool read(std::string_view text);  // steps through text, stopping at the first refused byte
  bool step(unsigned char c);
  bool start_value(unsigned char c);
  void value_done();

  Mode mode_ = Mode::kStart;
  std::string stack_;          // '{' and '[' of the open containers
  bool string_is_key_ = false;
  int hex_left_ = 0;
  const char* literal_rest_ = nullptr;  // what "true", "false" or "null" still needs
  int whitespace_run_ = 0;
};

// Masks (sets to -inf) the tokens that would leave the generated text (the sequence after the
// first `prompt_length` ids) no longer a JSON-object prefix, and `eos_token_ids` until the object
// is complete; once it is, only those (and whitespace) remain. `token_texts[id]` is the text of
// token id alone, empty for special tokens (never allowed, except the eos ones). Keeps the state
// of the text so far between calls: one instance per sequence.
class JsonObjectLogitsProcessor : public LogitsProcessor {
 public:
  JsonObjectLogitsProcessor(std::shared_ptr<const std::vector<std::string>> token_texts,
                            std::vector<int64_t> eos_token_ids, size_t prompt_length);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  std::shared_ptr<const std::vector<std::string>> token_texts_;
  std::vector<int64_t> eos_token_ids_;
  size_t prompt_length_;
  mutable JsonObjectPrefix state_;  // the text of the tokens fed so far
  mutable size_t fed_ = 0;          // generated tokens read into state_
};

}  // namespace transformers
