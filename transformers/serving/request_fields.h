// Typed access to the fields of a JSON request body: every getter checks the type and range and
// throws ApiError 400 naming the field ("temperature: expected a number, got a string"), so a
// wrong type never reaches the library as an exception of its own or a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "transformers/io/json.h"

namespace transformers::serving {

// The body parsed as a JSON object (400 for malformed JSON, nesting deeper than 64 or a
// non-object).
Json parse_request_body(const std::string& body);

// "string", "number", ... as OpenAI's messages name JSON types.
std::string json_type_name(const Json& value);

// Absent or null -> nullopt; present with another type or out of range -> ApiError 400.
std::optional<double> get_number(const Json& body, const std::string& field, double min, double max);
std::optional<int64_t> get_integer(const Json& body, const std::string& field, int64_t min, int64_t max);
std::optional<bool> get_bool(const Json& body, const std::string& field);
std::optional<std::string> get_string(const Json& body, const std::string& field);
// An object (or, for fields v5 takes as JSON text, a string holding one when `json_text_ok`).
std::optional<Json> get_object(const Json& body, const std::string& field, bool json_text_ok = false);
std::optional<Json> get_array(const Json& body, const std::string& field);
// A string or an array of strings (OpenAI's `stop`), at most `max_items`.
std::vector<std::string> get_string_or_strings(const Json& body, const std::string& field, size_t max_items);

}  // namespace transformers::serving
