// Template members of NormalizedString (included by normalized_string.h).
#pragma once

#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

template <typename Keep>
void NormalizedString::filter(Keep keep) {
  // Each kept char carries the count of removed chars that follow it; removed chars before the
  // first kept one are the initial offset.
  int removed = 0;
  size_t removed_start = 0;
  std::vector<CharChange> changes;
  changes.reserve(normalized_.size());
  bool have_last = false;
  char32_t last = 0;
  bool any_removed = false;
  for (size_t i = 0; i < normalized_.size();) {
    char32_t c = next_code_point(normalized_, i);
    if (keep(c)) {
      if (have_last) {
        changes.emplace_back(last, -removed);
      } else {
        removed_start = static_cast<size_t>(removed);
      }
      last = c;
      have_last = true;
      removed = 0;
    } else {
      ++removed;
      any_removed = true;
    }
  }
  if (!any_removed) return;  // identity: alignments unchanged
  if (have_last) changes.emplace_back(last, -removed);
  transform(changes, removed_start);
}

template <typename Map>
void NormalizedString::map(Map f) {
  std::vector<CharChange> changes;
  changes.reserve(normalized_.size());
  bool changed = false;
  for (size_t i = 0; i < normalized_.size();) {
    char32_t c = next_code_point(normalized_, i);
    char32_t m = f(c);
    changed |= m != c;
    changes.emplace_back(m, 0);
  }
  if (changed) transform(changes, 0);
}

template <typename Pred>
std::vector<PatternSplit> find_char_matches(std::string_view s, Pred is_delimiter) {
  std::vector<PatternSplit> out;
  if (s.empty()) {
    out.push_back({0, 0, false});
    return out;
  }
  size_t last = 0;
  for (size_t i = 0; i < s.size();) {
    size_t at = i;
    char32_t c = next_code_point(s, i);
    if (is_delimiter(c)) {
      if (last < at) out.push_back({last, at, false});
      out.push_back({at, i, true});
      last = i;
    }
  }
  if (last < s.size()) out.push_back({last, s.size(), false});
  return out;
}

}  // namespace transformers::tokenization
