// Pre-tokenization: the input cut into splits (each a NormalizedString that still knows its place
// in the original), some already resolved to tokens (added tokens), and the pre-tokenizers of
// tokenizer.json ("pre_tokenizer": {"type": ...}) that cut them further.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "transformers/io/json.h"
#include "transformers/tokenization/normalized_string.h"

namespace transformers::tokenization {

// A token produced by a model or the added vocabulary, offsets in bytes of its split's normalized
// string. Its string is the vocabulary entry for `id`, or with value_from_text the split's text in
// [start, end) (unknown pieces of Unigram, added tokens with their stripped spaces).
struct Token {
  uint32_t id;
  uint32_t start, end;
  bool value_from_text = false;
};

struct Split {
  NormalizedString normalized;
  bool tokenized = false;
  std::vector<Token> tokens;
};

class PreTokenizedString {
 public:
  explicit PreTokenizedString(std::string_view original);

  // Replaces every split not yet tokenized by what fn(NormalizedString&&, std::vector<Split>&)
  // appends; empty splits are dropped.
  template <typename Fn>
  void split(Fn fn) {
    std::vector<Split> next;
    next.reserve(splits_.size());
    for (auto& s : splits_) {
      if (s.tokenized) {
        next.push_back(std::move(s));
        continue;
      }
      size_t first = next.size();
      fn(std::move(s.normalized), next);
      size_t kept = first;
      for (size_t i = first; i < next.size(); ++i)
        if (!next[i].normalized.empty()) {
          if (kept != i) next[kept] = std::move(next[i]);
          ++kept;
        }
      next.resize(kept);
    }
    splits_ = std::move(next);
  }
  // Splits each untokenized split by `matches_of(text)` with the given behaviour.
  template <typename Matcher>
  void split_by(Matcher matches_of, SplitBehavior behavior) {
    split([&](NormalizedString&& s, std::vector<Split>& out) {
      for (auto& piece : s.split(matches_of(s.get()), behavior)) out.push_back({std::move(piece)});
    });
  }
  // Applies fn(NormalizedString&) to every split not yet tokenized.
  template <typename Fn>
  void normalize(Fn fn) {
    for (auto& s : splits_)
      if (!s.tokenized) fn(s.normalized);
  }

  const std::string& original() const { return original_; }
  std::vector<Split>& splits() { return splits_; }
  const std::vector<Split>& splits() const { return splits_; }

 private:
  std::string original_;
  std::vector<Split> splits_;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(PreTokenizedString& s) const = 0;
};

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& json, const std::string& where);

SplitBehavior parse_split_behavior(const Json& value, const std::string& where);

}  // namespace transformers::tokenization
