#include "transformers/tokenization/pattern_scanners.h"

#include <utf8proc.h>

#include "transformers/tokenization/byte_level.h"
#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

namespace {

enum CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

CharClass classify(char32_t c) {
  if (c < 0x80) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return kLetter;
    if (c >= '0' && c <= '9') return kNumber;
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return kSpace;
    return kOther;
  }
  if (is_whitespace(c)) return kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
      return kLetter;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return kNumber;
    default:
      return kOther;
  }
}

// The text decoded once: code points, their byte offsets and classes.
struct Decoded {
  std::vector<char32_t> cps;
  std::vector<uint32_t> at;  // byte offset of each code point, plus the end
  std::vector<CharClass> cls;
  void assign(std::string_view text) {
    cps.clear();
    at.clear();
    cls.clear();
    for (size_t i = 0; i < text.size();) {
      at.push_back(static_cast<uint32_t>(i));
      char32_t c = next_code_point(text, i);
      cps.push_back(c);
      cls.push_back(classify(c));
    }
    at.push_back(static_cast<uint32_t>(text.size()));
  }
  size_t size() const { return cps.size(); }
};

// 's 't 're 've 'm 'll 'd at i (case-insensitive when `fold`): the match length in chars, or 0.
size_t contraction_at(const Decoded& d, size_t i, bool fold) {
  if (d.cps[i] != '\'' || i + 1 >= d.size()) return 0;
  auto lower = [&](size_t k) -> char32_t {
    if (k >= d.size()) return 0;
    char32_t c = d.cps[k];
    if (!fold) return c;
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c == 0x17F) return 's';  // LATIN SMALL LETTER LONG S folds to s
    return c;
  };
  char32_t a = lower(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  char32_t b = lower(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

size_t run_of(const Decoded& d, size_t i, CharClass c) {
  size_t j = i;
  while (j < d.size() && d.cls[j] == c) ++j;
  return j;
}

// \s+(?!\S) then \s+ at a whitespace char i: the end of the match.
size_t whitespace_at(const Decoded& d, size_t i) {
  size_t j = run_of(d, i, kSpace);
  if (j == d.size() || j - i >= 2) return j == d.size() ? j : j - 1;
  return j;  // a single space before a non-space: \s+
}

// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t gpt2_at(const Decoded& d, size_t i) {
  if (size_t n = contraction_at(d, i, false)) return i + n;
  size_t start = i;
  if (d.cps[i] == ' ' && i + 1 < d.size() && d.cls[i + 1] != kSpace) start = i + 1;
  CharClass c = d.cls[start];
  if (c != kSpace) return run_of(d, start, c);
  return whitespace_at(d, i);
}

bool is_cr_lf(char32_t c) { return c == '\r' || c == '\n'; }

// Llama-3 / Qwen2:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+        (Qwen: \p{N} instead of \p{N}{1,3})
size_t llama3_at(const Decoded& d, size_t i, size_t max_digits) {
  if (size_t n = contraction_at(d, i, true)) return i + n;
  CharClass c = d.cls[i];
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c == kLetter) return run_of(d, i, kLetter);
  if (c != kNumber && !is_cr_lf(d.cps[i]) && i + 1 < d.size() && d.cls[i + 1] == kLetter)
    return run_of(d, i + 1, kLetter);
  if (c == kNumber) {
    size_t j = i;
    while (j < d.size() && j - i < max_digits && d.cls[j] == kNumber) ++j;
    return j;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  size_t start = i;
  if (d.cps[i] == ' ' && i + 1 < d.size() && d.cls[i + 1] == kOther) start = i + 1;
  if (d.cls[start] == kOther) {
    size_t j = run_of(d, start, kOther);
    while (j < d.size() && is_cr_lf(d.cps[j])) ++j;
    return j;
  }
  // c is whitespace: \s*[\r\n]+ ends after the last \r or \n of the whitespace run.
  size_t j = run_of(d, i, kSpace);
  for (size_t k = j; k > i; --k)
    if (is_cr_lf(d.cps[k - 1])) return k;
  return whitespace_at(d, i);
}

class KnownScanner final : public PatternScanner {
 public:
  enum class Kind { kGpt2, kLlama3, kQwen };
  explicit KnownScanner(Kind kind) : kind_(kind) {}
  void find_all(std::string_view text, std::vector<ByteRange>& out) const override {
    thread_local Decoded d;
    d.assign(text);
    for (size_t i = 0; i < d.size();) {
      size_t j = kind_ == Kind::kGpt2     ? gpt2_at(d, i)
                 : kind_ == Kind::kLlama3 ? llama3_at(d, i, 3)
                                          : llama3_at(d, i, 1);
      out.emplace_back(d.at[i], d.at[j]);
      i = j;
    }
  }

 private:
  Kind kind_;
};

constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwenPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

}  // namespace

std::unique_ptr<PatternScanner> make_pattern_scanner(std::string_view pattern) {
  if (pattern == kGpt2Pattern) return std::make_unique<KnownScanner>(KnownScanner::Kind::kGpt2);
  if (pattern == kLlama3Pattern) return std::make_unique<KnownScanner>(KnownScanner::Kind::kLlama3);
  if (pattern == kQwenPattern) return std::make_unique<KnownScanner>(KnownScanner::Kind::kQwen);
  return nullptr;
}

}  // namespace transformers::tokenization
