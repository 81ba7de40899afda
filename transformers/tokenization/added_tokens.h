// Added tokens (tokenizer.json "added_tokens"): matched in the text before the pipeline runs, as
// the Rust AddedVocabulary does. Tokens with normalized=false are found in the raw text first;
// the rest of the text is then normalized and tokens with normalized=true are found in it.
// Matching is leftmost-longest; lstrip/rstrip swallow adjacent whitespace, single_word requires
// word boundaries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "transformers/tokenization/normalizers.h"
#include "transformers/tokenization/pre_tokenizers.h"
#include "transformers/tokenization/vocab.h"

namespace transformers::tokenization {

struct AddedToken {
  std::string content;
  uint32_t id = 0;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

// Leftmost-longest multi-pattern matcher over bytes.
class PatternTrie {
 public:
  void add(std::string_view pattern, uint32_t value);
  bool empty() const { return ends_.size() <= 1; }
  // The longest pattern starting at text[pos]: (length, value).
  std::optional<std::pair<size_t, uint32_t>> longest_at(std::string_view text, size_t pos) const;
  bool may_start_with(unsigned char c) const { return first_bytes_[c]; }

 private:
  static uint64_t edge(uint32_t node, unsigned char c) { return (uint64_t{node} << 8) | c; }
  std::unordered_map<uint64_t, uint32_t> children_;
  std::vector<int64_t> ends_{-1};
  bool first_bytes_[256] = {};
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  // `tokens` in file order; ids are the file's (the model's id when the content is in its vocab).
  void build(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  // The input split around added tokens, with the rest normalized.
  PreTokenizedString extract_and_normalize(std::string_view text,
                                           const Normalizer* normalizer) const;

  // The same two-pass split on a plain string, for pipelines whose normalizer leaves this text
  // unchanged: (token index or -1, byte range) covering `text`.
  std::vector<std::pair<int64_t, ByteRange>> split_plain(std::string_view text) const;
  // The two passes separately: tokens with normalized=false on the raw text, and tokens with
  // normalized=true on (already normalized) text.
  std::vector<std::pair<int64_t, ByteRange>> split_raw(std::string_view text) const {
    return split_one_pass(text, raw_trie_);
  }
  std::vector<std::pair<int64_t, ByteRange>> split_normalized(std::string_view text) const {
    return split_one_pass(text, normalized_trie_);
  }
  uint32_t id_at(size_t index) const { return tokens_[index].id; }

  std::optional<uint32_t> token_to_id(std::string_view content) const;
  const AddedToken* by_id(uint32_t id) const;
  bool is_special_content(std::string_view content) const {
    return special_contents_.count(std::string(content)) > 0;
  }
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  bool empty() const { return tokens_.empty(); }

 private:
  std::vector<std::pair<int64_t, ByteRange>> split_one_pass(std::string_view text,
                                                            const PatternTrie& trie) const {
    if (trie.empty()) {
      if (text.empty()) return {};
      return {{-1, {0, text.size()}}};
    }
    return find_matches(text, trie);
  }
  void split_with(PreTokenizedString& pts, const PatternTrie& trie, bool normalize_first,
                  const Normalizer* normalizer) const;
  // (token index or -1, byte range) covering `text`.
  std::vector<std::pair<int64_t, ByteRange>> find_matches(std::string_view text,
                                                          const PatternTrie& trie) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, uint32_t> content_to_id_;
  std::unordered_map<uint32_t, size_t> id_to_index_;
  std::unordered_set<std::string> special_contents_;
  PatternTrie raw_trie_, normalized_trie_;  // values: index into tokens_
};

}  // namespace transformers::tokenization
