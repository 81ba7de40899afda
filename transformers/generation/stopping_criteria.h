// Stopping criteria of v5 (generation/stopping_criteria.py), asked once per row after every
// step: a row stops when any criterion says so.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace transformers {

// Turns token ids into text (a tokenizer's decode). Generation takes this instead of a
// Tokenizer so the generation layer does not depend on tokenization; see
// generation/tokenizer_adapters.h for the one-liner that makes it from a Tokenizer.
using TokenDecoder = std::function<std::string(std::span<const int64_t>)>;

class StoppingCriterion {
 public:
  virtual ~StoppingCriterion() = default;
  // sequence: the row's ids (prompt + generated so far, the newest token last).
  virtual bool is_done(std::span<const int64_t> sequence) const = 0;
};

class MaxLengthCriteria : public StoppingCriterion {
 public:
  explicit MaxLengthCriteria(int64_t max_length) : max_length_(max_length) {}
  bool is_done(std::span<const int64_t> sequence) const override;

 private:
  int64_t max_length_;
};

// Every row stops once max_time seconds have passed since construction (the start of generate).
class MaxTimeCriteria : public StoppingCriterion {
 public:
  explicit MaxTimeCriteria(double max_time_seconds);
  bool is_done(std::span<const int64_t> sequence) const override;

 private:
  double max_time_;
  std::chrono::steady_clock::time_point start_;
};

class EosTokenCriteria : public StoppingCriterion {
 public:
  explicit EosTokenCriteria(std::vector<int64_t> eos) : eos_(std::move(eos)) {}
  bool is_done(std::span<const int64_t> sequence) const override;

 private:
  std::vector<int64_t> eos_;
};

// Stops when a stop string ends inside the newest token, as v5's StopStringCriteria: the token
// may run past the end of the stop string ("." matches a final token ".\n"), but a stop string
// that ended at an earlier token does not match again. The tail of the row is decoded (the last
// max_stop_string_bytes + 1 tokens: every token that is not special decodes to at least one byte)
// and compared with the tail minus its newest token, so tokenizers whose pieces change spacing
// in context (sentencepiece) are handled by the decoder itself.
class StopStringCriteria : public StoppingCriterion {
 public:
  StopStringCriteria(std::vector<std::string> stop_strings, TokenDecoder decode);
  bool is_done(std::span<const int64_t> sequence) const override;

 private:
  std::vector<std::string> stop_strings_;
  TokenDecoder decode_;
  size_t window_;
};

class StoppingCriteriaList {
 public:
  void add(std::shared_ptr<const StoppingCriterion> c) { list_.push_back(std::move(c)); }
  bool empty() const { return list_.empty(); }
  bool is_done(std::span<const int64_t> sequence) const;

 private:
  std::vector<std::shared_ptr<const StoppingCriterion>> list_;
};

}  // namespace transformers
