// Hand-written matchers for the pre-tokenization regexes that nearly every byte-level tokenizer
// uses (GPT-2's, Llama-3's and Qwen2/3's). Each replays Oniguruma's leftmost-first alternation
// with backtracking for that one pattern, on the same Unicode classes (\p{L}, \p{N}, \s as
// White_Space), several times faster than the general engine. tests/tokenization compares them
// with Oniguruma on the sample corpus and on random strings; other patterns use Oniguruma.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "transformers/tokenization/normalized_string.h"

namespace transformers::tokenization {

class PatternScanner {
 public:
  virtual ~PatternScanner() = default;
  // All matches of the pattern in `text`, as Regex::find_all returns them.
  virtual void find_all(std::string_view text, std::vector<ByteRange>& out) const = 0;
};

// A scanner for `pattern` when it is one of the known ones, else null.
std::unique_ptr<PatternScanner> make_pattern_scanner(std::string_view pattern);

}  // namespace transformers::tokenization
