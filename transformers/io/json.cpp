#include "transformers/io/json.h"

namespace transformers {

void check_json_depth(std::string_view text, const std::string& what, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      TCPP_CHECK(++depth <= max_depth, FormatError, what, ": JSON nests deeper than ", max_depth,
                 " levels (at byte ", i, ")");
    } else if (c == ']' || c == '}') {
      --depth;  // unbalanced text is the parser's to report
    }
  }
}

namespace {
template <typename J>
J parse_impl(std::string_view text, const std::string& what, int max_depth) {
  check_json_depth(text, what, max_depth);
  try {
    return J::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(detail::concat(what, ": invalid JSON at byte ", e.byte, ": ", e.what()));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(detail::concat(what, ": invalid JSON: ", e.what()));
  }
}
}  // namespace

Json parse_json(std::string_view text, const std::string& what, int max_depth) {
  return parse_impl<Json>(text, what, max_depth);
}
OrderedJson parse_ordered_json(std::string_view text, const std::string& what, int max_depth) {
  return parse_impl<OrderedJson>(text, what, max_depth);
}
Json read_json_file(const std::filesystem::path& path, uint64_t max_bytes) {
  return parse_json(read_text_file(path, max_bytes), path.string());
}
OrderedJson read_ordered_json_file(const std::filesystem::path& path, uint64_t max_bytes) {
  return parse_ordered_json(read_text_file(path, max_bytes), path.string());
}

}  // namespace transformers
