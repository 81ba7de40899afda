#include "transformers/io/json.h"

#include <fstream>
#include <sstream>

namespace transformers {

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  TCPP_CHECK(in.good(), IoError, path.string(), ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  TCPP_CHECK(!in.bad(), IoError, path.string(), ": read failed");
  return ss.str();
}

namespace {
template <typename J>
J parse_impl(std::string_view text, const std::string& what) {
  try {
    return J::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(detail::concat(what, ": invalid JSON at byte ", e.byte, ": ", e.what()));
  }
}
}  // namespace

Json parse_json(std::string_view text, const std::string& what) { return parse_impl<Json>(text, what); }
OrderedJson parse_ordered_json(std::string_view text, const std::string& what) {
  return parse_impl<OrderedJson>(text, what);
}
Json read_json_file(const std::filesystem::path& path) {
  return parse_json(read_text_file(path), path.string());
}
OrderedJson read_ordered_json_file(const std::filesystem::path& path) {
  return parse_ordered_json(read_text_file(path), path.string());
}

}  // namespace transformers
