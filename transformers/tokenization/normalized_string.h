// A string under normalization that remembers, for every byte of its normalized form, which bytes
// of the original input it came from. Offsets of the final tokens are read back through these
// alignments, so every transformation here reproduces exactly how the Rust `tokenizers` library's
// NormalizedString updates them (including its corner cases), or offsets would drift.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace transformers::tokenization {

using ByteRange = std::pair<size_t, size_t>;  // [start, end) in bytes

// One character of a transformation and its change: 0 replaces an input char, 1 inserts a new
// char, -n replaces an input char and removes the n input chars after it.
using CharChange = std::pair<char32_t, int>;

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// A pattern match list over a string: consecutive [start, end) ranges covering it, each flagged
// as a match of the pattern or not (the shape of the Rust library's Pattern::find_matches).
struct PatternSplit {
  size_t start, end;
  bool is_match;
};

// A text being normalized (or decoded) may grow to at most kMaxGrowthFactor times its original
// bytes plus kGrowthAllowance: without a bound a Replace (or a charsmap entry, or a Sequence of
// them) that inserts a long text for every match turns a small input into gigabytes. The
// legitimate worst case is about 22x (NFKC of U+FDFA, 3 -> 33 bytes, then byte-level 2x); the
// allowance covers one-off insertions such as Prepend on a short input.
inline constexpr size_t kMaxGrowthFactor = 32;
inline constexpr size_t kGrowthAllowance = 64 * 1024;
inline size_t max_grown_size(size_t original_size) {
  return kMaxGrowthFactor * original_size + kGrowthAllowance;
}
// Throws ValueError naming `what` (the normalizer, pre-tokenizer or decoder) when a step would
// make a text of `original_size` input bytes `new_size` bytes long, above max_grown_size().
// Called before the step allocates.
void check_growth(size_t new_size, size_t original_size, std::string_view what);

// The size of a `text_size`-byte text once the `matches` flagged is_match are replaced by a
// `content_size`-byte content (saturating instead of wrapping around).
size_t replaced_size(size_t text_size, const std::vector<PatternSplit>& matches,
                     size_t content_size);

class NormalizedString {
 public:
  size_t max_size() const { return max_grown_size(original_size_); }
  void check_growth(size_t new_size, std::string_view what) const {
    tokenization::check_growth(new_size, original_size_, what);
  }

  NormalizedString() = default;
  explicit NormalizedString(std::string original);

  const std::string& get() const { return normalized_; }
  size_t size() const { return normalized_.size(); }
  bool empty() const { return normalized_.empty(); }
  size_t original_size() const { return original_size_; }
  // The [start, end) of this string in the whole input, in bytes.
  ByteRange offsets_original() const { return {original_shift_, original_shift_ + original_size_}; }

  // Maps a normalized byte range to the original (relative to this string's original), as the
  // Rust convert_offsets(Range::Normalized) does; nullopt when out of range.
  std::optional<ByteRange> normalized_to_original(size_t start, size_t end) const;

  // Replaces the whole normalized string by `dest` (see CharChange); `initial_offset` is the
  // number of chars removed at the very beginning.
  // `what` names the step for the growth check's error.
  void transform(const std::vector<CharChange>& dest, size_t initial_offset,
                 std::string_view what = "normalization");
  void transform_range(size_t n_start, size_t n_end, const std::vector<CharChange>& dest,
                       size_t initial_offset, std::string_view what = "normalization");

  void prepend(std::string_view s, std::string_view what = "prepend");
  void append(std::string_view s, std::string_view what = "append");
  void lowercase();
  void uppercase();
  // Replaces every `matches` range flagged is_match by `content`.
  void replace(const std::vector<PatternSplit>& matches, std::string_view content,
               std::string_view what = "replace");
  template <typename Keep>
  void filter(Keep keep);
  template <typename Map>
  void map(Map f);
  void strip(bool left, bool right);

  // A sub-string by normalized byte range (must be on char boundaries).
  NormalizedString slice(size_t n_start, size_t n_end) const;
  // Splits by a list of matches with the given delimiter behaviour.
  std::vector<NormalizedString> split(const std::vector<PatternSplit>& matches,
                                      SplitBehavior behavior) const;

 private:
  std::optional<ByteRange> full_original_as_normalized() const;

  std::string normalized_;
  std::vector<std::pair<uint32_t, uint32_t>> alignments_;  // one per normalized byte
  size_t original_size_ = 0;
  size_t original_shift_ = 0;
};

// Splits `s` on the characters where `is_delimiter` is true (the Rust Fn(char)->bool pattern).
template <typename Pred>
std::vector<PatternSplit> find_char_matches(std::string_view s, Pred is_delimiter);

}  // namespace transformers::tokenization

#include "transformers/tokenization/normalized_string_inl.h"
