#include "transformers/config/config_values.h"

#include <cmath>

namespace transformers {

namespace config_detail {
std::string key_name(const std::string& where, const std::string& key) { return where + ": key '" + key + "'"; }
}  // namespace config_detail

std::string short_dump(const Json& v) {
  constexpr size_t kMax = 48;
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > kMax) s = s.substr(0, kMax) + "...";
  return s;
}

int64_t config_int_value(const Json& v, const std::string& what) {
  if (v.is_number_integer()) {
    // nlohmann keeps integers above INT64_MAX as unsigned; get<int64_t> would wrap them.
    TCPP_CHECK(!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX), ConfigError, what,
               " is ", short_dump(v), ", beyond the int64 range");
    return v.get<int64_t>();
  }
  TCPP_CHECK(v.is_number_float(), ConfigError, what, " must be an integer, got ", v.type_name(), " ", short_dump(v));
  const double d = v.get<double>();
  // 2^63 itself does not fit; every double below it in magnitude converts exactly.
  TCPP_CHECK(std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9223372036854775808.0, ConfigError, what,
             " must be an integer, got ", short_dump(v));
  return static_cast<int64_t>(d);
}

double config_number_value(const Json& v, const std::string& what) {
  TCPP_CHECK(v.is_number(), ConfigError, what, " must be a number, got ", v.type_name(), " ", short_dump(v));
  return v.get<double>();
}

std::vector<int64_t> config_int_list_value(const Json& v, const std::string& what) {
  TCPP_CHECK(v.is_array(), ConfigError, what, " must be a list of integers, got ", v.type_name());
  std::vector<int64_t> out;
  out.reserve(v.size());
  for (const Json& e : v) out.push_back(config_int_value(e, what));
  return out;
}

std::vector<int64_t> config_int_or_list_value(const Json& v, const std::string& what) {
  if (v.is_null()) return {};
  if (v.is_array()) return config_int_list_value(v, what);
  return {config_int_value(v, what)};
}

void check_config_range(const std::string& where, const std::string& key, int64_t value, int64_t limit) {
  TCPP_CHECK(value >= 1 && value <= limit, ConfigError, where, ": ", key, " is ", value, ", out of range (1 to ", limit,
             ")");
}

void check_config_positive(const std::string& where, const std::string& key, double value) {
  TCPP_CHECK(std::isfinite(value) && value > 0, ConfigError, where, ": ", key, " is ", value,
             ", out of range (must be a finite number > 0)");
}

}  // namespace transformers
