// Typed reading of config.json / generation_config.json values, stricter than the JSON library's
// conversions: an integer key must hold a JSON integer (or a float with an integral value, as
// some writers emit 64.0) that fits int64; 64.9, 1e300, true or "64" are refused naming the file
// and key instead of being truncated, wrapped or silently converted. Every failure is a
// ConfigError naming `where` and the key.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "transformers/io/json.h"

namespace transformers {

// One JSON value as an int64 / a number; `what` names it ("config.json: key 'hidden_size'").
int64_t config_int_value(const Json& value, const std::string& what);
double config_number_value(const Json& value, const std::string& what);
// A list of integers (each checked as above).
std::vector<int64_t> config_int_list_value(const Json& value, const std::string& what);
// v5 fields that take an int or a list of ints (eos_token_id, forced_eos_token_id).
std::vector<int64_t> config_int_or_list_value(const Json& value, const std::string& what);

// A JSON value for an error message, cut to a few dozen characters.
std::string short_dump(const Json& value);

namespace config_detail {
std::string key_name(const std::string& where, const std::string& key);

template <typename T>
T convert(const Json& v, const std::string& what) {
  if constexpr (std::is_same_v<T, int64_t>) {
    return config_int_value(v, what);
  } else if constexpr (std::is_same_v<T, double>) {
    return config_number_value(v, what);
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    return config_int_list_value(v, what);
  } else if constexpr (std::is_same_v<T, std::vector<std::vector<int64_t>>>) {
    TCPP_CHECK(v.is_array(), ConfigError, what, " must be a list of lists of token ids, got ", v.type_name());
    std::vector<std::vector<int64_t>> out;
    for (const Json& row : v) out.push_back(config_int_list_value(row, what));
    return out;
  } else {
    if constexpr (std::is_same_v<T, bool>)
      TCPP_CHECK(v.is_boolean(), ConfigError, what, " must be true or false, got ", v.type_name());
    try {
      return v.get<T>();
    } catch (const nlohmann::json::exception&) {
      throw ConfigError(detail::concat(what, " has the wrong type (", v.type_name(), ")"));
    }
  }
}
}  // namespace config_detail

// Absent or null -> nullopt.
template <typename T>
std::optional<T> config_get_optional(const Json& obj, const std::string& key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  return config_detail::convert<T>(*it, config_detail::key_name(where, key));
}

template <typename T>
T config_get(const Json& obj, const std::string& key, const std::string& where) {
  auto v = config_get_optional<T>(obj, key, where);
  TCPP_CHECK(v.has_value(), ConfigError, where, ": missing key '", key, "'");
  return *v;
}

template <typename T>
T config_get_or(const Json& obj, const std::string& key, T fallback, const std::string& where) {
  auto v = config_get_optional<T>(obj, key, where);
  return v ? *v : fallback;
}

// A size key that must be in [1, limit] when present: ConfigError naming the key, the value and
// the range (a value <= 0 is out of range, not missing).
void check_config_range(const std::string& where, const std::string& key, int64_t value, int64_t limit);
// A float that must be finite and > 0 when present.
void check_config_positive(const std::string& where, const std::string& key, double value);

}  // namespace transformers
