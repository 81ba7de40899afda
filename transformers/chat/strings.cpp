#include "transformers/chat/strings.h"

#include <algorithm>

#include "transformers/chat/unicode.h"
#include "transformers/chat/value.h"

namespace transformers::jinja::strings {

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  std::u32string set;
  if (chars) set = unicode::to_u32(*chars);
  auto strippable = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : unicode::is_space(c); };
  size_t begin = 0, end = s.size();
  if (left) {
    while (begin < end) {
      size_t j = begin;
      if (!strippable(unicode::decode(s, j))) break;
      begin = j;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      size_t j = start;
      if (!strippable(unicode::decode(s, j))) break;
      end = start;
    }
  }
  return std::string(s.substr(begin, end - begin));
}

namespace {
// Whitespace-separated words with their byte ranges.
std::vector<std::pair<size_t, size_t>> words(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    if (unicode::is_space(unicode::decode(s, j))) {
      i = j;
      continue;
    }
    size_t start = i;
    while (i < s.size()) {
      size_t k = i;
      if (unicode::is_space(unicode::decode(s, k))) break;
      i = k;
    }
    out.emplace_back(start, i);
  }
  return out;
}
}  // namespace

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (!sep) {
    auto w = words(s);
    for (size_t i = 0; i < w.size(); ++i) {
      if (maxsplit >= 0 && static_cast<int64_t>(i) == maxsplit) {
        out.push_back(strip(s.substr(w[i].first), std::nullopt, false, true));
        return out;
      }
      out.emplace_back(s.substr(w[i].first, w[i].second - w[i].first));
    }
    return out;
  }
  if (sep->empty()) raise("ValueError", "empty separator");
  size_t pos = 0;
  int64_t n = 0;
  while (maxsplit < 0 || n < maxsplit) {
    size_t f = s.find(*sep, pos);
    if (f == std::string_view::npos) break;
    out.emplace_back(s.substr(pos, f - pos));
    pos = f + sep->size();
    ++n;
  }
  out.emplace_back(s.substr(pos));
  return out;
}

std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  if (maxsplit < 0) return split(s, sep, maxsplit);
  std::vector<std::string> out;
  if (!sep) {
    auto w = words(s);
    int64_t n = 0;
    for (size_t i = w.size(); i-- > 0;) {
      if (n == maxsplit) {
        out.push_back(strip(s.substr(0, w[i].second), std::nullopt, true, false));
        break;
      }
      out.emplace_back(s.substr(w[i].first, w[i].second - w[i].first));
      ++n;
    }
    std::reverse(out.begin(), out.end());
    return out;
  }
  if (sep->empty()) raise("ValueError", "empty separator");
  size_t end = s.size();
  int64_t n = 0;
  while (n < maxsplit) {
    if (end < sep->size()) break;
    size_t f = s.rfind(*sep, end - sep->size());
    if (f == std::string_view::npos) break;
    out.emplace_back(s.substr(f + sep->size(), end - f - sep->size()));
    end = f;
    ++n;
  }
  out.emplace_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> out;
  size_t line_start = 0, i = 0;
  while (i < s.size()) {
    size_t start = i;
    char32_t c = unicode::decode(s, i);
    bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
               c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) continue;
    if (c == '\r' && i < s.size() && s[i] == '\n') ++i;
    out.emplace_back(s.substr(line_start, (keepends ? i : start) - line_start));
    line_start = i;
  }
  if (line_start < s.size()) out.emplace_back(s.substr(line_start));
  return out;
}

std::string replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts repl between every character (and at both ends).
    int64_t n = 0;
    size_t i = 0;
    if (count != 0) {
      out += repl;
      ++n;
    }
    while (i < s.size()) {
      size_t start = i;
      unicode::decode(s, i);
      out.append(s.substr(start, i - start));
      if (count < 0 || n < count) {
        out += repl;
        ++n;
      }
    }
    return out;
  }
  size_t pos = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    size_t f = s.find(old, pos);
    if (f == std::string_view::npos) break;
    out.append(s.substr(pos, f - pos));
    out.append(repl);
    pos = f + old.size();
    ++n;
  }
  out.append(s.substr(pos));
  return out;
}

namespace {
// Full case mappings that expand (Python: 'ß'.upper() == 'SS', 'ß'.title() == 'Ss').
void append_upper(std::string& out, char32_t c) {
  if (c == 0xDF) out += "SS";
  else unicode::append_utf8(out, unicode::to_upper(c));
}
void append_title(std::string& out, char32_t c) {
  if (c == 0xDF) out += "Ss";
  else unicode::append_utf8(out, unicode::to_upper(c));
}
}  // namespace

std::string capitalize(std::string_view s) {
  std::string out;
  bool first = true;
  for (size_t i = 0; i < s.size();) {
    char32_t c = unicode::decode(s, i);
    if (first) append_title(out, c);
    else unicode::append_utf8(out, unicode::to_lower(c));
    first = false;
  }
  return out;
}

std::string py_title(std::string_view s) {
  std::string out;
  bool prev_cased = false;
  for (size_t i = 0; i < s.size();) {
    char32_t c = unicode::decode(s, i);
    if (prev_cased) unicode::append_utf8(out, unicode::to_lower(c));
    else append_title(out, c);
    prev_cased = unicode::is_upper(c) || unicode::is_lower(c);
  }
  return out;
}

std::string swapcase(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    char32_t c = unicode::decode(s, i);
    if (unicode::is_upper(c)) unicode::append_utf8(out, unicode::to_lower(c));
    else append_upper(out, c);
  }
  return out;
}

int64_t cp_index(std::string_view s, size_t byte_offset) {
  return static_cast<int64_t>(unicode::length(s.substr(0, byte_offset)));
}

std::string pad(std::string_view s, int64_t width, char32_t fill, char align) {
  int64_t len = static_cast<int64_t>(unicode::length(s));
  if (width <= len) return std::string(s);
  int64_t marg = width - len, left = 0;
  if (align == '>') left = marg;
  else if (align == '^') left = marg / 2;
  else if (align == 'c') left = marg / 2 + (marg & width & 1);
  std::string f;
  unicode::append_utf8(f, fill);
  std::string out;
  out.reserve(s.size() + marg * f.size());
  for (int64_t i = 0; i < left; ++i) out += f;
  out += s;
  for (int64_t i = 0; i < marg - left; ++i) out += f;
  return out;
}

}  // namespace transformers::jinja::strings
