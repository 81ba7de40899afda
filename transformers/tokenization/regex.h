// Regular expressions for tokenizer patterns, on Oniguruma (the engine the Rust `tokenizers`
// library uses, with the same default syntax), so \p{L}, lookahead and (?i:...) behave the same.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/tokenization/normalized_string.h"
#include "transformers/tokenization/pattern_scanners.h"

namespace transformers::tokenization {

class Regex {
 public:
  // Throws FormatError naming `where` when the pattern does not compile.
  Regex(std::string_view pattern, const std::string& where);

  // Oniguruma's backtracking budget per match attempt (its default, as in the Rust library) and
  // per search call (unbounded by default; bounded here so that a pattern that fails slowly at
  // every position cannot make one search quadratic without limit). A search that exceeds either
  // throws ValueError naming the pattern instead of silently ending the match list.
  static constexpr unsigned long kRetryLimitInMatch = 10'000'000;
  static constexpr unsigned long kRetryLimitInSearch = 100'000'000;
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All non-overlapping matches, as the Rust onig crate's find_iter yields them (an empty match
  // right after the previous match is skipped). Throws ValueError when Oniguruma gives up (its
  // retry limits above); the Rust library panics there.
  void find_all(std::string_view text, std::vector<ByteRange>& out) const;
  // find_all through Oniguruma even when a hand-written scanner exists (tests compare the two).
  void find_all_oniguruma(std::string_view text, std::vector<ByteRange>& out) const;
  bool has_scanner() const { return scanner_ != nullptr; }
  // find_all turned into a covering list of match / non-match ranges (Pattern::find_matches).
  std::vector<PatternSplit> find_matches(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::string where_;
  void* regex_ = nullptr;  // OnigRegex
  std::unique_ptr<PatternScanner> scanner_;  // a faster equivalent for known patterns
};

// Oniguruma plumbing shared with the chat filters' patterns: the one-time UTF-8 set-up, and a
// match region (OnigRegion*) per thread.
void initialize_oniguruma();
void* oniguruma_thread_region();

// Escapes a literal string so that it matches itself as a pattern.
std::string regex_escape(std::string_view literal);

// The matches of a literal string (non-overlapping, leftmost first), as find_matches.
std::vector<PatternSplit> find_literal_matches(std::string_view text, std::string_view literal);

}  // namespace transformers::tokenization
