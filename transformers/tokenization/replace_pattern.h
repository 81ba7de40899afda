// The {"pattern": {"String": ...} | {"Regex": ...}, "content": ...} pair that the Replace
// normalizer and the Replace decoder share.
#pragma once

#include <memory>
#include <string>

#include "transformers/tokenization/json_access.h"
#include "transformers/tokenization/regex.h"

namespace transformers::tokenization {

struct ReplacePattern {
  std::string content;             // the replacement
  std::string literal;             // the pattern when it is a plain string
  std::unique_ptr<Regex> regex;    // the pattern when it is a regex (then `literal` is unused)

  ReplacePattern(const Json& json, const std::string& where)
      : content(json_get<std::string>(json, "content", where)) {
    const Json& pattern = json_member(json, "pattern", where);
    if (pattern.contains("String")) {
      literal = json_get<std::string>(pattern, "String", where + ".pattern");
    } else {
      regex = std::make_unique<Regex>(json_get<std::string>(pattern, "Regex", where + ".pattern"), where + ".pattern");
    }
  }
};

}  // namespace transformers::tokenization
