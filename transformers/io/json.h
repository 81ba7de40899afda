// JSON reading with errors that name the file and the key. nlohmann::json is the parser
// (Debian's nlohmann-json3-dev); ordered_json keeps object key order where it is observable
// (chat templates iterate dicts in insertion order, as Python does).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "transformers/core/error.h"

namespace transformers {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// Reads and parses a whole JSON file. Throws IoError when it cannot be read and FormatError
// (with the file name and the parser's byte position) when it is not valid JSON.
Json read_json_file(const std::filesystem::path& path);
OrderedJson read_ordered_json_file(const std::filesystem::path& path);

// Parses JSON text; `what` names the source in error messages.
Json parse_json(std::string_view text, const std::string& what);
OrderedJson parse_ordered_json(std::string_view text, const std::string& what);

// Reads a whole file into a string (IoError naming the file on failure).
std::string read_text_file(const std::filesystem::path& path);

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
