#include "transformers/serving/request_fields.h"

#include <cmath>

#include "transformers/serving/api_error.h"

namespace transformers::serving {

namespace {
// Request bodies are small documents; deeper nesting is an attack on the parser, not a request.
constexpr int kMaxRequestDepth = 64;

const Json* field_of(const Json& body, const std::string& field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

ApiError wrong_type(const std::string& field, const char* expected, const Json& got) {
  return bad_field(field, std::string("expected ") + expected + ", got " + json_type_name(got));
}
}  // namespace

Json parse_request_body(const std::string& body) {
  Json j;
  try {
    j = parse_json(body, "request body", kMaxRequestDepth);
  } catch (const Error& e) {
    throw ApiError(400, std::string("malformed JSON: ") + e.what(), "invalid_request_error", {}, "invalid_json");
  }
  if (!j.is_object()) throw ApiError(400, "the request body must be a JSON object, got " + json_type_name(j));
  return j;
}

std::string json_type_name(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

std::optional<double> get_number(const Json& body, const std::string& field, double min, double max) {
  const Json* v = field_of(body, field);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw wrong_type(field, "a number", *v);
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < min || x > max)
    throw bad_field(field, detail::concat("must be from ", min, " to ", max, ", got ", v->dump()));
  return x;
}

std::optional<int64_t> get_integer(const Json& body, const std::string& field, int64_t min, int64_t max) {
  const Json* v = field_of(body, field);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) throw wrong_type(field, "an integer", *v);
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(max))
    throw bad_field(field, "must be from " + std::to_string(min) + " to " + std::to_string(max) + ", got " + v->dump());
  const int64_t x = v->get<int64_t>();
  if (x < min || x > max)
    throw bad_field(field, "must be from " + std::to_string(min) + " to " + std::to_string(max) + ", got " + v->dump());
  return x;
}

std::optional<bool> get_bool(const Json& body, const std::string& field) {
  const Json* v = field_of(body, field);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw wrong_type(field, "a boolean", *v);
  return v->get<bool>();
}

std::optional<std::string> get_string(const Json& body, const std::string& field) {
  const Json* v = field_of(body, field);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw wrong_type(field, "a string", *v);
  return v->get<std::string>();
}

std::optional<Json> get_object(const Json& body, const std::string& field, bool json_text_ok) {
  const Json* v = field_of(body, field);
  if (!v) return std::nullopt;
  if (json_text_ok && v->is_string()) {
    Json parsed;
    try {
      parsed = parse_json(v->get<std::string>(), field, kMaxRequestDepth);
    } catch (const Error& e) {
      throw bad_field(field, std::string("malformed JSON: ") + e.what());
    }
    if (!parsed.is_object()) throw wrong_type(field, "a JSON object", parsed);
    return parsed;
  }
  if (!v->is_object()) throw wrong_type(field, "an object", *v);
  return *v;
}

std::optional<Json> get_array(const Json& body, const std::string& field) {
  const Json* v = field_of(body, field);
  if (!v) return std::nullopt;
  if (!v->is_array()) throw wrong_type(field, "an array", *v);
  return *v;
}

std::vector<std::string> get_string_or_strings(const Json& body, const std::string& field, size_t max_items) {
  const Json* v = field_of(body, field);
  if (!v) return {};
  if (v->is_string()) return {v->get<std::string>()};
  if (!v->is_array()) throw wrong_type(field, "a string or an array of strings", *v);
  if (v->size() > max_items) throw bad_field(field, "at most " + std::to_string(max_items) + " entries");
  std::vector<std::string> out;
  for (const Json& s : *v) {
    if (!s.is_string()) throw wrong_type(field, "an array of strings", s);
    if (s.get_ref<const std::string&>().empty()) throw bad_field(field, "empty strings are not allowed");
    out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace transformers::serving
