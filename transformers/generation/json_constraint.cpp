#include "transformers/generation/json_constraint.h"

#include <algorithm>
#include <limits>

namespace transformers {

namespace {
bool is_whitespace(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
}  // namespace

bool JsonObjectPrefix::feed(unsigned char c) { return feed(std::string_view(reinterpret_cast<const char*>(&c), 1)); }

bool JsonObjectPrefix::feed(std::string_view text) {
  JsonObjectPrefix next = *this;
  if (!next.read(text)) return false;
  *this = std::move(next);
  return true;
}

bool JsonObjectPrefix::accepts(std::string_view text) const {
  JsonObjectPrefix next = *this;
  return next.read(text);
}

bool JsonObjectPrefix::read(std::string_view text) {
  for (char c : text)
    if (!step(static_cast<unsigned char>(c))) return false;
  return true;
}

void JsonObjectPrefix::value_done() { mode_ = stack_.empty() ? Mode::kDone : Mode::kAfterValue; }

bool JsonObjectPrefix::start_value(unsigned char c) {
  switch (c) {
    case '"': string_is_key_ = false; mode_ = Mode::kString; return true;
    case '{':
      if (stack_.size() >= kMaxDepth) return false;
      stack_.push_back('{'); mode_ = Mode::kObjectOpen; return true;
    case '[':
      if (stack_.size() >= kMaxDepth) return false;
      stack_.push_back('['); mode_ = Mode::kArrayOpen; return true;
    case '-': mode_ = Mode::kNumberSign; return true;
    case '0': mode_ = Mode::kNumberZero; return true;
    case 't': literal_rest_ = "rue"; mode_ = Mode::kLiteral; return true;
    case 'f': literal_rest_ = "alse"; mode_ = Mode::kLiteral; return true;
    case 'n': literal_rest_ = "ull"; mode_ = Mode::kLiteral; return true;
    default:
      if (c >= '1' && c <= '9') { mode_ = Mode::kNumberInt; return true; }
      return false;
  }
}

bool JsonObjectPrefix::step(unsigned char c) {
  // Whitespace between tokens (not inside strings, numbers or literals), bounded per run.
  const bool between = mode_ == Mode::kStart || mode_ == Mode::kObjectOpen || mode_ == Mode::kKey ||
                       mode_ == Mode::kColon || mode_ == Mode::kValue || mode_ == Mode::kArrayOpen ||
                       mode_ == Mode::kAfterValue || mode_ == Mode::kDone;
  if (between && is_whitespace(c)) return ++whitespace_run_ <= kMaxWhitespaceRun;
  whitespace_run_ = 0;
  switch (mode_) {
    case Mode::kStart:
      if (c != '{') return false;
      stack_.push_back('{');
      mode_ = Mode::kObjectOpen;
      return true;
    case Mode::kObjectOpen:
      if (c == '}') { stack_.pop_back(); value_done(); return true; }
      [[fallthrough]];
    case Mode::kKey:
      if (c != '"') return false;
      string_is_key_ = true;
      mode_ = Mode::kString;
      return true;
    case Mode::kColon:
      if (c != ':') return false;
      mode_ = Mode::kValue;
      return true;
    case Mode::kArrayOpen:
      if (c == ']') { stack_.pop_back(); value_done(); return true; }
      [[fallthrough]];
    case Mode::kValue:
      return start_value(c);
    case Mode::kAfterValue:
      if (c == ',') { mode_ = stack_.back() == '{' ? Mode::kKey : Mode::kValue; return true; }
      if ((c == '}' && stack_.back() == '{') || (c == ']' && stack_.back() == '[')) {
        stack_.pop_back();
        value_done();
        return true;
      }
      return false;
    case Mode::kString:
      if (c == '"') {
        if (string_is_key_) mode_ = Mode::kColon;
        else value_done();
        return true;
      }
      if (c == '\\') { mode_ = Mode::kEscape; return true; }
      return c >= 0x20;  // control characters must be escaped; any other byte (UTF-8) is text
    case Mode::kEscape:
      if (c == 'u') { hex_left_ = 4; mode_ = Mode::kHex; return true; }
      if (std::string_view("\"\\/bfnrt").find(static_cast<char>(c)) == std::string_view::npos) return false;
      mode_ = Mode::kString;
      return true;
    case Mode::kHex:
      if (!is_hex(c)) return false;
      if (--hex_left_ == 0) mode_ = Mode::kString;
      return true;
    case Mode::kNumberSign:
      if (c == '0') { mode_ = Mode::kNumberZero; return true; }
      if (c >= '1' && c <= '9') { mode_ = Mode::kNumberInt; return true; }
      return false;
    case Mode::kNumberInt:
      if (is_digit(c)) return true;
      [[fallthrough]];
    case Mode::kNumberZero:
      if (c == '.') { mode_ = Mode::kNumberDot; return true; }
      if (c == 'e' || c == 'E') { mode_ = Mode::kNumberExp; return true; }
      value_done();  // the number ended before c
      return step(c);
    case Mode::kNumberDot:
      if (!is_digit(c)) return false;
      mode_ = Mode::kNumberFrac;
      return true;
    case Mode::kNumberFrac:
      if (is_digit(c)) return true;
      if (c == 'e' || c == 'E') { mode_ = Mode::kNumberExp; return true; }
      value_done();
      return step(c);
    case Mode::kNumberExp:
      if (c == '+' || c == '-') { mode_ = Mode::kNumberExpSign; return true; }
      [[fallthrough]];
    case Mode::kNumberExpSign:
      if (!is_digit(c)) return false;
      mode_ = Mode::kNumberExpDigits;
      return true;
    case Mode::kNumberExpDigits:
      if (is_digit(c)) return true;
      value_done();
      return step(c);
    case Mode::kLiteral:
      if (c != static_cast<unsigned char>(*literal_rest_)) return false;
      if (*++literal_rest_ == '\0') value_done();
      return true;
    case Mode::kDone:
      return false;
  }
  return false;
}

JsonObjectLogitsProcessor::JsonObjectLogitsProcessor(std::shared_ptr<const std::vector<std::string>> token_texts,
                                                     std::vector<int64_t> eos_token_ids, size_t prompt_length)
    : token_texts_(std::move(token_texts)), eos_token_ids_(std::move(eos_token_ids)), prompt_length_(prompt_length) {}

void JsonObjectLogitsProcessor::apply(std::span<const int64_t> sequence, std::span<float> scores) const {
  const auto& texts = *token_texts_;
  // Read the tokens generated since the last call (the ones this processor allowed).
  for (; prompt_length_ + fed_ < sequence.size(); ++fed_) {
    const int64_t id = sequence[prompt_length_ + fed_];
    if (id >= 0 && static_cast<size_t>(id) < texts.size()) state_.feed(texts[static_cast<size_t>(id)]);
  }
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  const bool complete = state_.complete();
  bool any = false;
  for (size_t id = 0; id < scores.size(); ++id) {
    if (scores[id] == kMasked) continue;
    const bool eos = std::find(eos_token_ids_.begin(), eos_token_ids_.end(), static_cast<int64_t>(id)) != eos_token_ids_.end();
    bool allowed = eos ? complete : false;
    if (!eos && id < texts.size() && !texts[id].empty()) allowed = state_.accepts(texts[id]);
    if (allowed) any = true;
    else scores[id] = kMasked;
  }
  // Nothing fits (the nesting or whitespace bounds): end the sequence rather than sample from nothing.
  if (!any)
    for (int64_t id : eos_token_ids_)
      if (id >= 0 && static_cast<size_t>(id) < scores.size()) scores[static_cast<size_t>(id)] = 0.0f;
}

}  // namespace transformers
