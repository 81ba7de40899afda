// JSON reading with errors that name the file and the key. nlohmann::json is the parser
// (Debian's nlohmann-json3-dev); ordered_json keeps object key order where it is observable
// (chat templates iterate dicts in insertion order, as Python does).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "transformers/core/error.h"
#include "transformers/io/files.h"

namespace transformers {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// Nesting deeper than this is refused before parsing: nlohmann's copies and conversions recurse
// per level, so a document nested a million levels deep would overflow the stack. Hugging Face's
// safetensors reader stops at the same depth (serde_json's limit); real configs nest < 10 deep.
inline constexpr int kMaxJsonDepth = 128;
// Size limit for JSON files read whole (config.json, generation_config.json, index files): a
// parsed document takes ~15x its text, so this bounds memory at a few hundred MB.
inline constexpr uint64_t kMaxJsonFileBytes = uint64_t{64} << 20;

// Reads and parses a whole JSON file. Throws IoError when it cannot be read (missing, not a
// regular file) and FormatError (with the file name and the parser's byte position) when it is
// not valid JSON, nests deeper than kMaxJsonDepth or is larger than `max_bytes`.
Json read_json_file(const std::filesystem::path& path, uint64_t max_bytes = kMaxJsonFileBytes);
OrderedJson read_ordered_json_file(const std::filesystem::path& path, uint64_t max_bytes = kMaxJsonFileBytes);

// Parses JSON text; `what` names the source in error messages. Deeper nesting than `max_depth`
// is a FormatError.
Json parse_json(std::string_view text, const std::string& what, int max_depth = kMaxJsonDepth);
OrderedJson parse_ordered_json(std::string_view text, const std::string& what, int max_depth = kMaxJsonDepth);

// Throws FormatError naming `what` when the arrays and objects of JSON text nest deeper than
// `max_depth` (brackets inside strings are skipped). Linear in the text, no allocation.
void check_json_depth(std::string_view text, const std::string& what, int max_depth = kMaxJsonDepth);

// Typed access to a required or optional member of a JSON object; errors name `where` and key.
template <typename T>
T json_get(const Json& obj, const std::string& key, const std::string& where) {
  auto it = obj.find(key);
  TCPP_CHECK(it != obj.end() && !it->is_null(), ConfigError, where, ": missing key '", key, "'");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw ConfigError(detail::concat(where, ": key '", key, "' has the wrong type (", it->type_name(),
                                     ")"));
  }
}

template <typename T>
std::optional<T> json_get_optional(const Json& obj, const std::string& key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw ConfigError(detail::concat(where, ": key '", key, "' has the wrong type (", it->type_name(),
                                     ")"));
  }
}

template <typename T>
T json_get_or(const Json& obj, const std::string& key, T fallback, const std::string& where) {
  auto v = json_get_optional<T>(obj, key, where);
  return v ? *v : fallback;
}

}  // namespace transformers
