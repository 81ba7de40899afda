#include "transformers/generation/stopping_criteria.h"

#include <algorithm>

#include "transformers/core/error.h"

namespace transformers {

bool MaxLengthCriteria::is_done(std::span<const int64_t> seq) const {
  return static_cast<int64_t>(seq.size()) >= max_length_;
}

MaxTimeCriteria::MaxTimeCriteria(double max_time) : max_time_(max_time), start_(std::chrono::steady_clock::now()) {}

bool MaxTimeCriteria::is_done(std::span<const int64_t>) const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count() > max_time_;
}

bool EosTokenCriteria::is_done(std::span<const int64_t> seq) const {
  return !seq.empty() && std::find(eos_.begin(), eos_.end(), seq.back()) != eos_.end();
}

StopStringCriteria::StopStringCriteria(std::vector<std::string> stop_strings, TokenDecoder decode)
    : stop_strings_(std::move(stop_strings)), decode_(std::move(decode)) {
  TCPP_CHECK(decode_, ValueError,
             "stop_strings need a tokenizer: pass GenerateOptions::decode (e.g. token_decoder(tokenizer))");
  size_t longest = 0;
  for (const auto& s : stop_strings_) {
    TCPP_CHECK(!s.empty(), ValueError, "stop_strings must not contain an empty string");
    longest = std::max(longest, s.size());
  }
  window_ = longest + 1;
}

bool StopStringCriteria::is_done(std::span<const int64_t> seq) const {
  if (seq.empty()) return false;
  const std::span<const int64_t> tail = seq.subspan(seq.size() - std::min(seq.size(), window_));
  const std::string text = decode_(tail);
  const std::string before = decode_(tail.first(tail.size() - 1));
  // The newest token's text starts where the shorter decode stops agreeing with the longer one.
  size_t common = 0;
  while (common < before.size() && common < text.size() && before[common] == text[common]) ++common;
  for (const auto& s : stop_strings_) {
    // An occurrence ending inside the newest token: its end lies in (common, text.size()].
    for (size_t end = std::max(common + 1, s.size()); end <= text.size(); ++end)
      if (text.compare(end - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

bool StoppingCriteriaList::is_done(std::span<const int64_t> seq) const {
  for (const auto& c : list_)
    if (c->is_done(seq)) return true;
  return false;
}

}  // namespace transformers
