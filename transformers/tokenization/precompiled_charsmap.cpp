#include "transformers/tokenization/precompiled_charsmap.h"

#include <cstring>

#include "transformers/core/error.h"
#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

namespace {

// Darts-clone unit layout.
bool has_leaf(uint32_t unit) { return (unit >> 8) & 1; }
uint32_t value_of(uint32_t unit) { return unit & ((1u << 31) - 1); }
uint32_t label_of(uint32_t unit) { return unit & ((1u << 31) | 0xFF); }
uint32_t offset_of(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }

}  // namespace

std::string base64_decode(std::string_view text, const std::string& where) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    int v = value(c);
    TCPP_CHECK(v >= 0, FormatError, where, ": invalid base64 character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

PrecompiledCharsmap::PrecompiledCharsmap(std::string_view blob, const std::string& where)
    : where_(where) {
  TCPP_CHECK(blob.size() >= 4, FormatError, where, ": precompiled_charsmap is too short");
  uint32_t trie_size;
  std::memcpy(&trie_size, blob.data(), 4);
  size_t n_units = trie_size / 4;
  TCPP_CHECK(n_units >= 1 && 4 + n_units * 4 <= blob.size(), FormatError, where,
             ": precompiled_charsmap trie size ", trie_size, " exceeds the blob (", blob.size(),
             " bytes)");
  units_.resize(n_units);
  std::memcpy(units_.data(), blob.data() + 4, n_units * 4);
  replacements_.assign(blob.substr(4 + n_units * 4));
}

std::optional<std::string_view> PrecompiledCharsmap::replacement_at(size_t index) const {
  if (index > replacements_.size()) return std::nullopt;
  size_t end = replacements_.find('\0', index);
  if (end == std::string::npos) end = replacements_.size();
  return std::string_view(replacements_).substr(index, end - index);
}

std::optional<std::string_view> PrecompiledCharsmap::transform(std::string_view chunk) const {
  size_t node = 0;
  node ^= offset_of(units_[0]);
  for (unsigned char c : chunk) {
    if (c == 0) break;
    node ^= c;
    if (node >= units_.size()) return std::nullopt;
    uint32_t unit = units_[node];
    if (label_of(unit) != c) return std::nullopt;
    node ^= offset_of(unit);
    if (node >= units_.size()) return std::nullopt;
    if (has_leaf(unit)) return replacement_at(value_of(units_[node]));
  }
  return std::nullopt;
}

std::optional<std::pair<size_t, std::string_view>> PrecompiledCharsmap::longest_prefix(
    std::string_view text) const {
  std::optional<std::pair<size_t, std::string_view>> best;
  size_t node = offset_of(units_[0]);
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0) break;
    node ^= c;
    if (node >= units_.size()) break;
    uint32_t unit = units_[node];
    if (label_of(unit) != c) break;
    node ^= offset_of(unit);
    if (node >= units_.size()) break;
    if (has_leaf(unit)) {
      if (auto r = replacement_at(value_of(units_[node]))) best.emplace(i + 1, *r);
    }
  }
  return best;
}

namespace {

// Appends the changes replacing `old_part` by `new_part` (the `replace` helper of tokenizers'
// precompiled.rs, including how a shorter replacement folds the removal into the last change).
void append_replacement(std::vector<CharChange>& changes, std::string_view old_part,
                        std::string_view new_part) {
  int old_count = static_cast<int>(count_code_points(old_part));
  int new_count = static_cast<int>(count_code_points(new_part));
  int diff = new_count - old_count;
  for (size_t i = 0; i < new_part.size();) changes.emplace_back(next_code_point(new_part, i), 0);
  if (diff > 0) {
    for (int k = 0; k < diff && k < static_cast<int>(changes.size()); ++k)
      changes[changes.size() - 1 - k].second = 1;
  } else if (diff < 0 && !changes.empty()) {
    changes.back().second += diff;
  }
}

}  // namespace

void PrecompiledCharsmap::normalize(NormalizedString& s) const {
  const std::string& text = s.get();
  std::vector<CharChange> changes;
  changes.reserve(text.size());
  bool modified = false;
  for (auto [start, end] : grapheme_ranges(text)) {
    // A charsmap entry may map one char to a long text: bound the changes as they grow (each
    // is at least one byte of the result).
    s.check_growth(changes.size(), where_);
    std::string_view grapheme(text.data() + start, end - start);
    if (grapheme.size() < 6) {
      if (auto norm = transform(grapheme)) {
        modified = true;
        append_replacement(changes, grapheme, *norm);
        continue;
      }
    }
    for (size_t i = 0; i < grapheme.size();) {
      size_t at = i;
      char32_t c = next_code_point(grapheme, i);
      std::string_view part = grapheme.substr(at, i - at);
      if (auto norm = transform(part)) {
        modified = true;
        append_replacement(changes, part, *norm);
      } else {
        changes.emplace_back(c, 0);
      }
    }
  }
  if (modified) s.transform(changes, 0, where_);
}

}  // namespace transformers::tokenization
