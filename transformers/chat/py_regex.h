// The few Python `re` patterns that jinja2's filters are defined by (urlize's URL and e-mail
// patterns, textwrap's word splitter for wordwrap), on Oniguruma over UTF-8 text. Patterns are
// written in Oniguruma's syntax: \A and \z for Python's match anchors, Unicode \w \d \s as
// Python's str patterns have them, lookbehind as Python allows it.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace transformers::jinja {

class PyRegex {
 public:
  explicit PyRegex(std::string_view pattern, bool ignore_case = false);
  ~PyRegex();
  PyRegex(const PyRegex&) = delete;
  PyRegex& operator=(const PyRegex&) = delete;

  // The first match at or after byte `from`: [begin, end) byte offsets.
  std::optional<std::pair<size_t, size_t>> search(std::string_view text, size_t from = 0) const;
  // re.match: a match that starts at byte `at`.
  bool matches_at(std::string_view text, size_t at = 0) const;

 private:
  void* regex_ = nullptr;  // OnigRegex
};

}  // namespace transformers::jinja
