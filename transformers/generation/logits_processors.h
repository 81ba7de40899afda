// Logits processors of v5 (transformers/generation/logits_process.py), one class each, applied
// row by row: every processor of Transformers looks at one row's ids and scores only, so a row
// interface keeps them small and lets the tests hand-compute single cases. Scores are float32,
// removed entries are set to -inf as Transformers' filter_value.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "transformers/config/generation_config.h"
#include "transformers/core/tensor.h"

namespace transformers {

class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;
  // sequence: the row's ids so far (prompt, with its padding, + generated); scores: the row's
  // next-token scores [V], changed in place.
  virtual void apply(std::span<const int64_t> sequence, std::span<float> scores) const = 0;
  // The same for row `row` of the expanded batch; processors that depend on the batch item
  // (prefix_allowed_tokens_fn) override this one.
  virtual void apply_at(size_t row, std::span<const int64_t> sequence, std::span<float> scores) const {
    apply(sequence, scores);
  }
};

// Called with (batch item, its ids so far) -> the token ids allowed next (v5's
// prefix_allowed_tokens_fn).
using PrefixAllowedTokensFn = std::function<std::vector<int64_t>(int64_t batch_id, std::span<const int64_t> ids)>;

class LogitsProcessorList {
 public:
  void add(std::shared_ptr<const LogitsProcessor> p) { list_.push_back(std::move(p)); }
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  const LogitsProcessor& operator[](size_t i) const { return *list_[i]; }
  // scores: N rows of V (row-major, on the host); sequences has N rows.
  void apply(const std::vector<std::vector<int64_t>>& sequences, std::span<float> scores) const;
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const;
  void apply_at(size_t row, std::span<const int64_t> sequence, std::span<float> scores) const;

 private:
  std::vector<std::shared_ptr<const LogitsProcessor>> list_;
};

// --- processors (always on when configured) ---

// Adds a bias to the last token of each sequence when the row ends with the rest of it (a
// one-token sequence is always biased); biases of matching sequences add up.
class SequenceBiasLogitsProcessor : public LogitsProcessor {
 public:
  explicit SequenceBiasLogitsProcessor(std::vector<std::pair<std::vector<int64_t>, double>> bias);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  std::vector<std::pair<std::vector<int64_t>, double>> bias_;
};

// Bans (bias -inf) bad word sequences; a bad word equal to a lone eos token is dropped, as in v5.
class NoBadWordsLogitsProcessor : public SequenceBiasLogitsProcessor {
 public:
  NoBadWordsLogitsProcessor(const std::vector<std::vector<int64_t>>& bad_words_ids, const std::vector<int64_t>& eos);
};

// Seen tokens: positive scores divided by the penalty, negative ones multiplied.
class RepetitionPenaltyLogitsProcessor : public LogitsProcessor {
 public:
  explicit RepetitionPenaltyLogitsProcessor(double penalty);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  float penalty_;
};

// Bans tokens that would repeat an n-gram already present in the row.
class NoRepeatNGramLogitsProcessor : public LogitsProcessor {
 public:
  explicit NoRepeatNGramLogitsProcessor(int64_t ngram_size);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  int64_t n_;
};

// Masks eos while the row (prompt included) is shorter than min_length.
class MinLengthLogitsProcessor : public LogitsProcessor {
 public:
  MinLengthLogitsProcessor(int64_t min_length, std::vector<int64_t> eos);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  int64_t min_length_;
  std::vector<int64_t> eos_;
};

// Masks eos while fewer than min_new_tokens tokens follow the prompt.
class MinNewTokensLengthLogitsProcessor : public LogitsProcessor {
 public:
  MinNewTokensLengthLogitsProcessor(int64_t prompt_length, int64_t min_new_tokens, std::vector<int64_t> eos);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  int64_t prompt_length_, min_new_tokens_;
  std::vector<int64_t> eos_;
};

// Only the tokens prefix_allowed_tokens_fn allows stay (constrained generation); rows of one batch
// item (num_beams or num_return_sequences of them) share its batch id.
class PrefixConstrainedLogitsProcessor : public LogitsProcessor {
 public:
  PrefixConstrainedLogitsProcessor(PrefixAllowedTokensFn fn, int64_t rows_per_item);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;
  void apply_at(size_t row, std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  PrefixAllowedTokensFn fn_;
  int64_t rows_per_item_;
};

// Forces bos as the first generated token of a row of length 1 (encoder-decoder decoders).
class ForcedBOSTokenLogitsProcessor : public LogitsProcessor {
 public:
  explicit ForcedBOSTokenLogitsProcessor(int64_t bos) : bos_(bos) {}
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  int64_t bos_;
};

// Forces an eos token as the last token when max_length is reached.
class ForcedEOSTokenLogitsProcessor : public LogitsProcessor {
 public:
  ForcedEOSTokenLogitsProcessor(int64_t max_length, std::vector<int64_t> eos);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  int64_t max_length_;
  std::vector<int64_t> eos_;
};

// nan -> 0, +-inf -> the largest finite float of that sign.
class InfNanRemoveLogitsProcessor : public LogitsProcessor {
 public:
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;
};

// After start_index new tokens, raises the eos scores by |score| * (factor^k - 1).
class ExponentialDecayLengthPenalty : public LogitsProcessor {
 public:
  ExponentialDecayLengthPenalty(int64_t start_index, double factor, std::vector<int64_t> eos, int64_t prompt_length);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  int64_t regulation_start_;
  double factor_;
  std::vector<int64_t> eos_;
};

class SuppressTokensLogitsProcessor : public LogitsProcessor {
 public:
  explicit SuppressTokensLogitsProcessor(std::vector<int64_t> tokens) : tokens_(std::move(tokens)) {}
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  std::vector<int64_t> tokens_;
};

// Suppresses tokens at exactly one step: when the row has begin_index tokens.
class SuppressTokensAtBeginLogitsProcessor : public LogitsProcessor {
 public:
  SuppressTokensAtBeginLogitsProcessor(std::vector<int64_t> tokens, int64_t begin_index)
      : tokens_(std::move(tokens)), begin_index_(begin_index) {}
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  std::vector<int64_t> tokens_;
  int64_t begin_index_;
};

// --- warpers (only with do_sample) ---

class TemperatureLogitsWarper : public LogitsProcessor {
 public:
  explicit TemperatureLogitsWarper(double temperature);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  float temperature_;
};

// Top-H: among the 100 highest scores, keeps tokens in order of probability while their
// cumulative entropy -sum p log p (p renormalised over those 100) stays within top_h times the
// entropy of that distribution; the top token always stays.
class TopHLogitsWarper : public LogitsProcessor {
 public:
  explicit TopHLogitsWarper(double top_h);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  double top_h_;
};

// Keeps the max(top_k, min_tokens_to_keep) highest scores (ties with the k-th are kept).
class TopKLogitsWarper : public LogitsProcessor {
 public:
  TopKLogitsWarper(int64_t top_k, int64_t min_tokens_to_keep = 1);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  int64_t top_k_;
};

// Nucleus: keeps the smallest set of highest-probability tokens whose mass exceeds top_p.
class TopPLogitsWarper : public LogitsProcessor {
 public:
  TopPLogitsWarper(double top_p, int64_t min_tokens_to_keep = 1);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  double top_p_;
  int64_t min_keep_;
};

// Removes tokens whose probability is below min_p times the top probability.
class MinPLogitsWarper : public LogitsProcessor {
 public:
  MinPLogitsWarper(double min_p, int64_t min_tokens_to_keep = 1);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  double min_p_;
  int64_t min_keep_;
};

// Locally typical sampling: keeps the tokens whose surprisal is closest to the entropy, up to
// `mass` of probability.
class TypicalLogitsWarper : public LogitsProcessor {
 public:
  TypicalLogitsWarper(double mass, int64_t min_tokens_to_keep = 1);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  double mass_;
  int64_t min_keep_;
};

// Removes tokens with probability below epsilon (truncation sampling).
class EpsilonLogitsWarper : public LogitsProcessor {
 public:
  EpsilonLogitsWarper(double epsilon, int64_t min_tokens_to_keep = 1);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  double epsilon_;
  int64_t min_keep_;
};

// Removes tokens with probability below min(epsilon, sqrt(epsilon) * exp(-entropy)).
class EtaLogitsWarper : public LogitsProcessor {
 public:
  EtaLogitsWarper(double epsilon, int64_t min_tokens_to_keep = 1);
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;

 private:
  double epsilon_;
  int64_t min_keep_;
};

// log_softmax of the scores (renormalize_logits; always last).
class LogitNormalization : public LogitsProcessor {
 public:
  void apply(std::span<const int64_t> sequence, std::span<float> scores) const override;
};

// What the processors need beyond the config: the (padded) prompt length and the resolved
// max_length (prompt + new tokens).
struct ProcessorContext {
  int64_t input_length = 0;
  int64_t max_length = 0;
  PrefixAllowedTokensFn prefix_allowed_tokens_fn = {};
  int64_t rows_per_item = 1;  // num_beams (beam search) or num_return_sequences
};

// v5's _get_logits_processor: the always-on processors, then `extra` (user processors), then
// the warpers when do_sample, then LogitNormalization when renormalize_logits.
LogitsProcessorList make_logits_processors(const GenerationConfig& config, const ProcessorContext& context,
                                           const std::vector<std::shared_ptr<const LogitsProcessor>>& extra = {});

}  // namespace transformers
