#include "transformers/tokenization/normalized_string.h"

#include <algorithm>

#include "transformers/core/error.h"

namespace transformers::tokenization {

NormalizedString::NormalizedString(std::string original)
    : normalized_(std::move(original)), original_size_(normalized_.size()) {
  alignments_.resize(normalized_.size());
  for (size_t i = 0; i < normalized_.size();) {
    size_t start = i;
    size_t n = utf8_sequence_length(static_cast<unsigned char>(normalized_[i]));
    if (start + n > normalized_.size()) n = normalized_.size() - start;
    for (size_t k = 0; k < n; ++k)
      alignments_[start + k] = {static_cast<uint32_t>(start), static_cast<uint32_t>(start + n)};
    i += n;
  }
}

std::optional<ByteRange> NormalizedString::normalized_to_original(size_t start, size_t end) const {
  if (start == end) return ByteRange{start, end};
  if (start > end) return std::nullopt;
  if (normalized_.empty() && start == 0 && end == 0) return ByteRange{0, original_size_};
  if (end > alignments_.size()) return std::nullopt;
  return ByteRange{alignments_[start].first, alignments_[end - 1].second};
}

// The normalized range that the whole original maps to (Rust: convert_offsets(Original(..))):
// it starts at the first byte with a non-empty alignment.
std::optional<ByteRange> NormalizedString::full_original_as_normalized() const {
  if (original_size_ == 0) return ByteRange{0, 0};
  std::optional<size_t> start;
  for (size_t i = 0; i < alignments_.size(); ++i) {
    if (alignments_[i].first != alignments_[i].second) {
      start = i;
      break;
    }
  }
  if (alignments_.empty()) return std::nullopt;
  if (!start) return ByteRange{alignments_.size(), alignments_.size()};
  return ByteRange{*start, alignments_.size()};
}

void check_growth(size_t new_size, size_t original_size, std::string_view what) {
  TCPP_CHECK(new_size <= max_grown_size(original_size), ValueError, what,
             ": the text would grow to ", new_size, " bytes from an input of ", original_size,
             " bytes, over the limit of ", kMaxGrowthFactor, " x the input + ", kGrowthAllowance,
             " bytes");
}

size_t replaced_size(size_t text_size, const std::vector<PatternSplit>& matches,
                     size_t content_size) {
  size_t count = 0, removed = 0;
  for (const auto& m : matches) {
    if (!m.is_match) continue;
    ++count;
    removed += m.end - m.start;
  }
  size_t inserted = 0;
  if (__builtin_mul_overflow(count, content_size, &inserted)) return SIZE_MAX;
  size_t kept = text_size - removed;  // matches lie inside the text
  return inserted > SIZE_MAX - kept ? SIZE_MAX : kept + inserted;
}

void NormalizedString::transform(const std::vector<CharChange>& dest, size_t initial_offset,
                                 std::string_view what) {
  auto range = full_original_as_normalized();
  if (!range) return;
  transform_range(range->first, range->second, dest, initial_offset, what);
}

void NormalizedString::transform_range(size_t n_start, size_t n_end,
                                       const std::vector<CharChange>& dest,
                                       size_t initial_offset, std::string_view what) {
  // Each char of `dest` is at least one byte.
  check_growth(normalized_.size() - (n_end - n_start) + dest.size(), what);
  // Byte sizes of the chars being replaced, consumed as the changes say.
  std::string_view replaced(normalized_.data() + n_start, n_end - n_start);
  size_t cursor = 0;
  auto next_replaced_size = [&]() -> size_t {
    if (cursor >= replaced.size()) return 0;
    size_t n = utf8_sequence_length(static_cast<unsigned char>(replaced[cursor]));
    n = std::min(n, replaced.size() - cursor);
    cursor += n;
    return n;
  };
  size_t initial_removed = 0;
  for (size_t k = 0; k < initial_offset; ++k) initial_removed += next_replaced_size();

  size_t offset = initial_removed + n_start;
  std::string new_text;
  new_text.reserve(dest.size());
  std::vector<std::pair<uint32_t, uint32_t>> new_alignments;
  new_alignments.reserve(dest.size());
  auto alignment_at = [&](size_t idx) -> std::pair<uint32_t, uint32_t> {
    if (alignments_.empty()) return {0, 0};
    return alignments_[std::min(idx, alignments_.size() - 1)];
  };
  for (const auto& [c, change] : dest) {
    std::pair<uint32_t, uint32_t> align;
    if (change > 0) {
      // An inserted char shares the alignment of the byte before it.
      align = offset < 1 ? std::pair<uint32_t, uint32_t>{0, 0} : alignment_at(offset - 1);
    } else {
      align = alignment_at(offset);
      offset += next_replaced_size();
      for (int k = 0; k < -change; ++k) offset += next_replaced_size();
    }
    size_t before = new_text.size();
    append_utf8(new_text, c);
    new_alignments.insert(new_alignments.end(), new_text.size() - before, align);
  }
  normalized_.replace(n_start, n_end - n_start, new_text);
  alignments_.erase(alignments_.begin() + static_cast<std::ptrdiff_t>(n_start),
                    alignments_.begin() + static_cast<std::ptrdiff_t>(n_end));
  alignments_.insert(alignments_.begin() + static_cast<std::ptrdiff_t>(n_start),
                     new_alignments.begin(), new_alignments.end());
}

void NormalizedString::prepend(std::string_view s, std::string_view what) {
  if (normalized_.empty() || s.empty()) return;
  size_t i = 0;
  char32_t first = next_code_point(normalized_, i);
  std::vector<CharChange> dest;
  bool is_first = true;
  for (size_t k = 0; k < s.size();) {
    dest.emplace_back(next_code_point(s, k), is_first ? 0 : 1);
    is_first = false;
  }
  dest.emplace_back(first, 1);
  transform_range(0, i, dest, 0, what);
}

void NormalizedString::append(std::string_view s, std::string_view what) {
  if (s.empty()) return;
  std::vector<CharChange> dest;
  size_t start = normalized_.size();
  if (!normalized_.empty()) {
    // The last char of the string, re-emitted as a replacement, then the new chars.
    start = normalized_.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(normalized_[start]) & 0xC0) == 0x80) --start;
    size_t i = start;
    dest.emplace_back(next_code_point(normalized_, i), 0);
  }
  for (size_t k = 0; k < s.size();) dest.emplace_back(next_code_point(s, k), 1);
  transform_range(start, normalized_.size(), dest, 0, what);
}

void NormalizedString::lowercase() {
  bool changed = false;
  std::u32string mapped;
  std::vector<CharChange> dest;
  dest.reserve(normalized_.size());
  for (size_t i = 0; i < normalized_.size();) {
    char32_t c = next_code_point(normalized_, i);
    mapped.clear();
    append_lowercase(mapped, c);
    for (size_t k = 0; k < mapped.size(); ++k) dest.emplace_back(mapped[k], k > 0 ? 1 : 0);
    changed |= mapped.size() != 1 || mapped[0] != c;
  }
  if (changed) transform(dest, 0);
}

void NormalizedString::uppercase() {
  bool changed = false;
  std::u32string mapped;
  std::vector<CharChange> dest;
  for (size_t i = 0; i < normalized_.size();) {
    char32_t c = next_code_point(normalized_, i);
    mapped.clear();
    append_uppercase(mapped, c);
    for (size_t k = 0; k < mapped.size(); ++k) dest.emplace_back(mapped[k], k > 0 ? 1 : 0);
    changed |= mapped.size() != 1 || mapped[0] != c;
  }
  if (changed) transform(dest, 0);
}

void NormalizedString::replace(const std::vector<PatternSplit>& matches, std::string_view content,
                               std::string_view what) {
  bool any = false;
  for (const auto& m : matches) any |= m.is_match;
  if (!any) return;
  size_t new_size = replaced_size(normalized_.size(), matches, content.size());
  check_growth(new_size, what);
  std::string text;
  std::vector<std::pair<uint32_t, uint32_t>> aligns;
  text.reserve(new_size);
  aligns.reserve(new_size);
  size_t last_end = 0;
  for (const auto& m : matches) {
    if (!m.is_match) continue;
    text.append(normalized_, last_end, m.start - last_end);
    aligns.insert(aligns.end(), alignments_.begin() + static_cast<std::ptrdiff_t>(last_end),
                  alignments_.begin() + static_cast<std::ptrdiff_t>(m.start));
    // Every inserted char takes the alignment of the last byte of the replaced match.
    std::pair<uint32_t, uint32_t> align{0, 0};
    if (m.end >= 1) align = alignments_[m.end - 1];
    text.append(content);
    aligns.insert(aligns.end(), content.size(), align);
    last_end = m.end;
  }
  text.append(normalized_, last_end, std::string::npos);
  aligns.insert(aligns.end(), alignments_.begin() + static_cast<std::ptrdiff_t>(last_end),
                alignments_.end());
  normalized_ = std::move(text);
  alignments_ = std::move(aligns);
}

void NormalizedString::strip(bool left, bool right) {
  std::u32string chars = decode_utf8(normalized_);
  size_t leading = 0, trailing = 0;
  if (left)
    while (leading < chars.size() && is_whitespace(chars[leading])) ++leading;
  if (right)
    while (trailing < chars.size() - leading &&
           is_whitespace(chars[chars.size() - 1 - trailing]))
      ++trailing;
  if (leading == 0 && trailing == 0) return;
  std::vector<CharChange> dest;
  size_t count = chars.size();
  for (size_t i = 0; i < count; ++i) {
    if (i < leading || i >= count - trailing) continue;
    // The Rust code compares the char index with the *byte* length here; kept for identical
    // alignments on non-ASCII input.
    if (i + trailing + 1 == normalized_.size()) {
      dest.emplace_back(chars[i], -static_cast<int>(trailing));
    } else {
      dest.emplace_back(chars[i], 0);
    }
  }
  transform(dest, leading);
}

NormalizedString NormalizedString::slice(size_t n_start, size_t n_end) const {
  NormalizedString out;
  n_end = std::min(n_end, normalized_.size());
  n_start = std::min(n_start, n_end);
  size_t o_start = n_start, o_end = n_start;
  if (n_start < n_end) {
    o_start = alignments_[n_start].first;
    o_end = alignments_[n_end - 1].second;
    if (o_end < o_start) o_end = o_start;
  }
  out.normalized_ = normalized_.substr(n_start, n_end - n_start);
  out.alignments_.reserve(n_end - n_start);
  for (size_t i = n_start; i < n_end; ++i) {
    auto a = alignments_[i];
    out.alignments_.emplace_back(a.first >= o_start ? a.first - o_start : 0,
                                 a.second >= o_start ? a.second - o_start : 0);
  }
  out.original_size_ = o_end - o_start;
  out.original_shift_ = original_shift_ + o_start;
  return out;
}

std::vector<NormalizedString> NormalizedString::split(const std::vector<PatternSplit>& matches,
                                                      SplitBehavior behavior) const {
  // (range, remove?) after applying the behaviour.
  struct Piece {
    size_t start, end;
    bool remove;
  };
  std::vector<Piece> pieces;
  pieces.reserve(matches.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& m : matches) pieces.push_back({m.start, m.end, false});
      break;
    case SplitBehavior::kRemoved:
      for (const auto& m : matches) pieces.push_back({m.start, m.end, m.is_match});
      break;
    case SplitBehavior::kContiguous: {
      bool previous = false;
      for (const auto& m : matches) {
        if (m.is_match == previous && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.start, m.end, false});
        }
        previous = m.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous = false;
      for (const auto& m : matches) {
        if (m.is_match && !previous && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.start, m.end, false});
        }
        previous = m.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous = false;
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->is_match && !previous && !pieces.empty()) {
          pieces.back().start = it->start;
        } else {
          pieces.push_back({it->start, it->end, false});
        }
        previous = it->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
  }
  std::vector<NormalizedString> out;
  out.reserve(pieces.size());
  for (const auto& p : pieces)
    if (!p.remove) out.push_back(slice(p.start, p.end));
  return out;
}

}  // namespace transformers::tokenization
