// GENERATE_FLAGS as v5's `transformers chat` takes them: space-separated `key=value` words turned
// into a JSON object (`max_new_tokens=64 do_sample=False eos_token_id=[1,2]`). Values: true/false
// (any case) -> bool, None -> null, integers and decimals (negative too) -> numbers, `[1,2]` -> a
// list of ints, anything else -> a string. Used by `chat` (arguments and !set).
#pragma once

#include <string>
#include <vector>

#include "transformers/io/json.h"

namespace transformers::cli {

// One `key=value` word into `into` (a later key replaces an earlier one). ValueError naming the
// word when it has no '=' or an empty key.
void parse_generate_flag(const std::string& word, Json& into);

// Every word; `into` keeps the keys not named.
Json parse_generate_flags(const std::vector<std::string>& words, Json into = Json::object());

}  // namespace transformers::cli
