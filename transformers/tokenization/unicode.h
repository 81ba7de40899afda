// UTF-8 and Unicode helpers for the tokenizer pipeline. Character properties come from utf8proc;
// where the Rust `tokenizers` library uses a specific definition (char::is_whitespace,
// unicode_categories' is_punctuation, ...) the helper here follows that definition so that splits
// agree character for character.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <optional>
#include <utility>
#include <vector>

namespace transformers::tokenization {

// Length in bytes of the UTF-8 sequence starting with `lead` (1 for invalid lead bytes).
inline size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

// Decodes the code point at s[i] (s must be valid UTF-8) and advances i past it.
inline char32_t next_code_point(std::string_view s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  size_t n = utf8_sequence_length(c);
  if (i + n > s.size()) n = s.size() - i;
  char32_t cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

inline size_t utf8_length(char32_t c) {
  return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

inline std::string utf8_encode(char32_t c) {
  std::string s;
  append_utf8(s, c);
  return s;
}

std::u32string decode_utf8(std::string_view s);
size_t count_code_points(std::string_view s);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);
// Replaces each maximal invalid subsequence with U+FFFD, like Rust's String::from_utf8_lossy
// (and Python's bytes.decode(errors="replace")).
std::string to_valid_utf8(std::string_view s);

// Rust char::is_whitespace (the White_Space property).
bool is_whitespace(char32_t c);
// unicode_categories is_punctuation: general category P*.
bool is_punctuation(char32_t c);
// Rust char::is_numeric: general category N*.
bool is_numeric(char32_t c);
// unicode_categories is_other: C* (control, format, unassigned, private use, surrogate).
bool is_other(char32_t c);
// General category Mn.
bool is_mark_nonspacing(char32_t c);
// General category M* (Mn, Mc, Me): what the StripAccents normalizer removes.
bool is_combining_mark(char32_t c);
// The Unicode \w of Rust's regex crate: Alphabetic, M*, Nd, Pc and Join_Control (used by the
// Whitespace pre-tokenizer and added-token single_word).
bool is_word_char(char32_t c);
// Rust char::to_lowercase (full mapping: U+0130 lowercases to two code points).
void append_lowercase(std::u32string& out, char32_t c);
void append_uppercase(std::u32string& out, char32_t c);

enum class NormalizationForm { kNFC, kNFD, kNFKC, kNFKD };

// The code points of form(s), each paired with the change it makes relative to the input, in the
// convention of NormalizedString::transform: 0 replaces one input char, 1 inserts a char, -n
// replaces one char and removes the n after it. This is the sequence the unicode-normalization-
// alignments crate (used by `tokenizers`) yields, so that offsets agree.
std::vector<std::pair<char32_t, int>> normalize_with_changes(std::string_view s,
                                                             NormalizationForm form);

// True when NFC certainly leaves `s` unchanged (every char a starter that neither decomposes
// canonically into something else nor combines with a previous char); false means "maybe not".
bool is_nfc_quick(std::string_view s);

// Grapheme clusters (extended, UAX #29) of s, as [start, end) byte ranges.
std::vector<std::pair<size_t, size_t>> grapheme_ranges(std::string_view s);

#include "transformers/tokenization/unicode_scripts_table.inc"

// The Script property as HF tokenizers' table has it (code points assigned before Unicode 10),
// none for the rest and for Unknown.
std::optional<UnicodeScript> unicode_script(char32_t c);

}  // namespace transformers::tokenization
