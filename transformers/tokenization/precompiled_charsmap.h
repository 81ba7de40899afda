// The sentencepiece "precompiled_charsmap" normalizer (Precompiled in tokenizer.json): a Darts
// double-array trie from UTF-8 byte strings to replacement strings, applied per grapheme cluster
// as the Rust spm_precompiled crate and `tokenizers` do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/tokenization/normalized_string.h"

namespace transformers::tokenization {

class PrecompiledCharsmap {
 public:
  // `blob` is the decoded charsmap: u32 trie size, trie units, then NUL-separated replacements.
  PrecompiledCharsmap(std::string_view blob, const std::string& where);

  // The replacement of the shortest key that prefixes `chunk` (spm_precompiled's transform).
  std::optional<std::string_view> transform(std::string_view chunk) const;
  // The longest key that prefixes `text`: (its byte length, replacement).
  std::optional<std::pair<size_t, std::string_view>> longest_prefix(std::string_view text) const;
  void normalize(NormalizedString& s) const;

 private:
  std::optional<std::string_view> replacement_at(size_t index) const;
  std::vector<uint32_t> units_;
  std::string replacements_;
  std::string where_;  // names the normalizer in growth errors
};

std::string base64_decode(std::string_view text, const std::string& where);

}  // namespace transformers::tokenization
