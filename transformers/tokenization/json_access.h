// Reference access to members of a parsed tokenizer.json: the vocabularies and merges are large,
// and json_get<Json> would copy them.
#pragma once

#include <string>

#include "transformers/io/json.h"

namespace transformers::tokenization {

// The member `key` of `obj`; ConfigError naming `where` when it is missing or null.
inline const Json& json_member(const Json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  TCPP_CHECK(it != obj.end() && !it->is_null(), ConfigError, where, ": missing key '", key, "'");
  return *it;
}

// The member `key` of `obj`, or a null value when it is missing.
inline const Json& json_member_or_null(const Json& obj, const char* key) {
  static const Json null_json;
  auto it = obj.find(key);
  return it == obj.end() ? null_json : *it;
}

}  // namespace transformers::tokenization
