#include "cli/generate_flags.h"
#include "cli/usage_error.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace transformers::cli {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The whole of `text` as an integer or a decimal, else nothing.
std::optional<Json> number(const std::string& text) {
  int64_t i = 0;
  const char* end = text.data() + text.size();
  if (auto [p, ec] = std::from_chars(text.data(), end, i); ec == std::errc() && p == end) return Json(i);
  double d = 0.0;
  if (auto [p, ec] = std::from_chars(text.data(), end, d, std::chars_format::fixed | std::chars_format::scientific);
      ec == std::errc() && p == end && !text.empty())
    return Json(d);
  return std::nullopt;
}

// "[1,2, 3]" -> [1, 2, 3]; nothing when any element is not an integer.
std::optional<Json> int_list(const std::string& text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  Json list = Json::array();
  const std::string inner = text.substr(1, text.size() - 2);
  size_t start = 0;
  while (start <= inner.size() && inner.find_first_not_of(" ") != std::string::npos) {
    size_t comma = inner.find(',', start);
    if (comma == std::string::npos) comma = inner.size();
    std::string item = inner.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    std::optional<Json> n = number(item);
    if (!n || !n->is_number_integer()) return std::nullopt;
    list.push_back(*n);
    start = comma + 1;
  }
  return list;
}

}  // namespace

void parse_generate_flag(const std::string& word, Json& into) {
  const size_t eq = word.find('=');
  TCPP_CHECK(eq != std::string::npos && eq > 0, UsageError, "generate flag '", word,
             "' is not key=value (e.g. max_new_tokens=64 temperature=0.7)");
  const std::string key = word.substr(0, eq), value = word.substr(eq + 1);
  const std::string l = lower(value);
  if (l == "true" || l == "false") {
    into[key] = l == "true";
  } else if (value == "None") {
    into[key] = nullptr;
  } else if (std::optional<Json> n = number(value)) {
    into[key] = *n;
  } else if (std::optional<Json> list = int_list(value)) {
    into[key] = *list;
  } else {
    into[key] = value;
  }
}

Json parse_generate_flags(const std::vector<std::string>& words, Json into) {
  for (const std::string& w : words) parse_generate_flag(w, into);
  return into;
}

}  // namespace transformers::cli
