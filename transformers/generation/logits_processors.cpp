// The always-on processors and the list builder; the sampling warpers are in logits_warpers.cpp.
#include "transformers/generation/logits_processors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace transformers {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

void set_if_in_vocab(std::span<float> scores, int64_t token, float value) {
  if (token >= 0 && token < static_cast<int64_t>(scores.size())) scores[token] = value;
}

bool ends_with(std::span<const int64_t> sequence, std::span<const int64_t> tail) {
  return sequence.size() >= tail.size() && std::equal(tail.begin(), tail.end(), sequence.end() - tail.size());
}

}  // namespace

void LogitsProcessorList::apply(std::span<const int64_t> sequence, std::span<float> scores) const {
  for (const auto& p : list_) p->apply(sequence, scores);
}

void LogitsProcessorList::apply_at(size_t row, std::span<const int64_t> sequence, std::span<float> scores) const {
  for (const auto& p : list_) p->apply_at(row, sequence, scores);
}

void LogitsProcessorList::apply(const std::vector<std::vector<int64_t>>& sequences, std::span<float> scores) const {
  const size_t N = sequences.size();
  TCPP_CHECK(N == 0 ? scores.empty() : scores.size() % N == 0, ShapeError, "logits processors: ", scores.size(),
             " scores for ", N, " sequences");
  const size_t V = N == 0 ? 0 : scores.size() / N;
  for (size_t r = 0; r < sequences.size(); ++r) apply_at(r, sequences[r], scores.subspan(r * V, V));
}

SequenceBiasLogitsProcessor::SequenceBiasLogitsProcessor(std::vector<std::pair<std::vector<int64_t>, double>> bias)
    : bias_(std::move(bias)) {
  for (const auto& [ids, b] : bias_)
    TCPP_CHECK(!ids.empty(), ValueError, "sequence_bias: a biased sequence must have at least one token");
}

void SequenceBiasLogitsProcessor::apply(std::span<const int64_t> sequence, std::span<float> scores) const {
  // Collect first, then add: every sequence is matched against the same row (as v5 builds one
  // bias tensor before adding it).
  std::vector<std::pair<int64_t, float>> add;
  for (const auto& [ids, b] : bias_) {
    std::span<const int64_t> prefix(ids.data(), ids.size() - 1);
    if (ids.size() == 1 || ends_with(sequence, prefix)) add.emplace_back(ids.back(), static_cast<float>(b));
  }
  for (auto [t, b] : add)
    if (t >= 0 && t < static_cast<int64_t>(scores.size())) scores[t] += b;
}

namespace {
std::vector<std::pair<std::vector<int64_t>, double>> bad_word_biases(const std::vector<std::vector<int64_t>>& bad,
                                                                     const std::vector<int64_t>& eos) {
  std::vector<std::pair<std::vector<int64_t>, double>> out;
  for (const auto& w : bad) {
    TCPP_CHECK(!w.empty(), ValueError, "bad_words_ids: every entry must be a non-empty list of token ids");
    const bool lone_eos = w.size() == 1 && std::find(eos.begin(), eos.end(), w[0]) != eos.end();
    if (!lone_eos) out.emplace_back(w, -std::numeric_limits<double>::infinity());
  }
  return out;
}
}  // namespace

NoBadWordsLogitsProcessor::NoBadWordsLogitsProcessor(const std::vector<std::vector<int64_t>>& bad,
                                                     const std::vector<int64_t>& eos)
    : SequenceBiasLogitsProcessor(bad_word_biases(bad, eos)) {}

RepetitionPenaltyLogitsProcessor::RepetitionPenaltyLogitsProcessor(double penalty) : penalty_(static_cast<float>(penalty)) {
  TCPP_CHECK(penalty > 0, ValueError, "repetition_penalty has to be a strictly positive float, got ", penalty);
}

void RepetitionPenaltyLogitsProcessor::apply(std::span<const int64_t> sequence, std::span<float> scores) const {
  std::set<int64_t> seen(sequence.begin(), sequence.end());
  for (int64_t t : seen) {
    if (t < 0 || t >= static_cast<int64_t>(scores.size())) continue;
    float& s = scores[t];
    s = s < 0 ? s * penalty_ : s / penalty_;
  }
}

NoRepeatNGramLogitsProcessor::NoRepeatNGramLogitsProcessor(int64_t n) : n_(n) {
  TCPP_CHECK(n > 0, ValueError, "no_repeat_ngram_size has to be a strictly positive integer, got ", n);
}

void NoRepeatNGramLogitsProcessor::apply(std::span<const int64_t> seq, std::span<float> scores) const {
  const int64_t len = static_cast<int64_t>(seq.size());
  if (len + 1 < n_) return;
  // The last n-1 tokens; every earlier n-gram that starts with them bans its last token.
  std::span<const int64_t> tail = seq.subspan(static_cast<size_t>(len - (n_ - 1)));
  for (int64_t i = 0; i + n_ <= len; ++i)
    if (std::equal(tail.begin(), tail.end(), seq.begin() + i)) set_if_in_vocab(scores, seq[i + n_ - 1], kNegInf);
}

MinLengthLogitsProcessor::MinLengthLogitsProcessor(int64_t min_length, std::vector<int64_t> eos)
    : min_length_(min_length), eos_(std::move(eos)) {}

void MinLengthLogitsProcessor::apply(std::span<const int64_t> seq, std::span<float> scores) const {
  if (static_cast<int64_t>(seq.size()) < min_length_)
    for (int64_t e : eos_) set_if_in_vocab(scores, e, kNegInf);
}

MinNewTokensLengthLogitsProcessor::MinNewTokensLengthLogitsProcessor(int64_t prompt_length, int64_t min_new,
                                                                     std::vector<int64_t> eos)
    : prompt_length_(prompt_length), min_new_tokens_(min_new), eos_(std::move(eos)) {}

void MinNewTokensLengthLogitsProcessor::apply(std::span<const int64_t> seq, std::span<float> scores) const {
  if (static_cast<int64_t>(seq.size()) - prompt_length_ < min_new_tokens_)
    for (int64_t e : eos_) set_if_in_vocab(scores, e, kNegInf);
}

PrefixConstrainedLogitsProcessor::PrefixConstrainedLogitsProcessor(PrefixAllowedTokensFn fn, int64_t rows_per_item)
    : fn_(std::move(fn)), rows_per_item_(rows_per_item) {
  TCPP_CHECK(fn_ && rows_per_item > 0, ValueError, "prefix_allowed_tokens_fn: a function and rows_per_item > 0");
}

void PrefixConstrainedLogitsProcessor::apply(std::span<const int64_t> seq, std::span<float> scores) const {
  apply_at(0, seq, scores);
}

void PrefixConstrainedLogitsProcessor::apply_at(size_t row, std::span<const int64_t> seq, std::span<float> scores) const {
  std::vector<float> kept(scores.size(), kNegInf);
  for (int64_t t : fn_(static_cast<int64_t>(row) / rows_per_item_, seq))
    if (t >= 0 && t < static_cast<int64_t>(scores.size())) kept[t] = scores[t];
  std::copy(kept.begin(), kept.end(), scores.begin());
}

void ForcedBOSTokenLogitsProcessor::apply(std::span<const int64_t> seq, std::span<float> scores) const {
  if (seq.size() != 1) return;
  std::fill(scores.begin(), scores.end(), kNegInf);
  set_if_in_vocab(scores, bos_, 0.0f);
}

ForcedEOSTokenLogitsProcessor::ForcedEOSTokenLogitsProcessor(int64_t max_length, std::vector<int64_t> eos)
    : max_length_(max_length), eos_(std::move(eos)) {}

void ForcedEOSTokenLogitsProcessor::apply(std::span<const int64_t> seq, std::span<float> scores) const {
  if (static_cast<int64_t>(seq.size()) != max_length_ - 1) return;
  std::fill(scores.begin(), scores.end(), kNegInf);
  for (int64_t e : eos_) set_if_in_vocab(scores, e, 0.0f);
}

void InfNanRemoveLogitsProcessor::apply(std::span<const int64_t>, std::span<float> scores) const {
  for (float& s : scores) {
    if (std::isnan(s)) s = 0.0f;
    else if (std::isinf(s)) s = s > 0 ? std::numeric_limits<float>::max() : std::numeric_limits<float>::lowest();
  }
}

ExponentialDecayLengthPenalty::ExponentialDecayLengthPenalty(int64_t start_index, double factor, std::vector<int64_t> eos,
                                                             int64_t prompt_length)
    : regulation_start_(start_index + prompt_length), factor_(factor), eos_(std::move(eos)) {}

void ExponentialDecayLengthPenalty::apply(std::span<const int64_t> seq, std::span<float> scores) const {
  const int64_t cur_len = static_cast<int64_t>(seq.size());
  if (cur_len <= regulation_start_) return;
  const double growth = std::pow(factor_, static_cast<double>(cur_len - regulation_start_)) - 1.0;
  for (int64_t e : eos_)
    if (e >= 0 && e < static_cast<int64_t>(scores.size()))
      scores[e] += static_cast<float>(std::abs(scores[e]) * growth);
}

void SuppressTokensLogitsProcessor::apply(std::span<const int64_t>, std::span<float> scores) const {
  for (int64_t t : tokens_) set_if_in_vocab(scores, t, kNegInf);
}

void SuppressTokensAtBeginLogitsProcessor::apply(std::span<const int64_t> seq, std::span<float> scores) const {
  if (static_cast<int64_t>(seq.size()) == begin_index_)
    for (int64_t t : tokens_) set_if_in_vocab(scores, t, kNegInf);
}

LogitsProcessorList make_logits_processors(const GenerationConfig& g, const ProcessorContext& ctx,
                                           const std::vector<std::shared_ptr<const LogitsProcessor>>& extra) {
  LogitsProcessorList list;
  const auto& eos = g.eos_token_ids;
  if (!g.sequence_bias.empty()) list.add(std::make_shared<SequenceBiasLogitsProcessor>(g.sequence_bias));
  if (g.repetition_penalty != 1.0) list.add(std::make_shared<RepetitionPenaltyLogitsProcessor>(g.repetition_penalty));
  if (g.no_repeat_ngram_size > 0) list.add(std::make_shared<NoRepeatNGramLogitsProcessor>(g.no_repeat_ngram_size));
  if (!g.bad_words_ids.empty()) list.add(std::make_shared<NoBadWordsLogitsProcessor>(g.bad_words_ids, eos));
  if (g.min_length > 0 && !eos.empty()) list.add(std::make_shared<MinLengthLogitsProcessor>(g.min_length, eos));
  if (g.min_new_tokens > 0 && !eos.empty())
    list.add(std::make_shared<MinNewTokensLengthLogitsProcessor>(ctx.input_length, g.min_new_tokens, eos));
  if (ctx.prefix_allowed_tokens_fn)
    list.add(std::make_shared<PrefixConstrainedLogitsProcessor>(ctx.prefix_allowed_tokens_fn, ctx.rows_per_item));
  if (g.forced_bos_token_id) list.add(std::make_shared<ForcedBOSTokenLogitsProcessor>(*g.forced_bos_token_id));
  if (!g.forced_eos_token_ids.empty())
    list.add(std::make_shared<ForcedEOSTokenLogitsProcessor>(ctx.max_length, g.forced_eos_token_ids));
  if (g.remove_invalid_values) list.add(std::make_shared<InfNanRemoveLogitsProcessor>());
  if (g.exponential_decay_length_penalty)
    list.add(std::make_shared<ExponentialDecayLengthPenalty>(g.exponential_decay_length_penalty->first,
                                                             g.exponential_decay_length_penalty->second, eos,
                                                             ctx.input_length));
  if (!g.suppress_tokens.empty()) list.add(std::make_shared<SuppressTokensLogitsProcessor>(g.suppress_tokens));
  if (!g.begin_suppress_tokens.empty()) {
    const int64_t begin = (ctx.input_length > 1 || !g.forced_bos_token_id) ? ctx.input_length : ctx.input_length + 1;
    list.add(std::make_shared<SuppressTokensAtBeginLogitsProcessor>(g.begin_suppress_tokens, begin));
  }
  for (const auto& p : extra) list.add(p);
  if (g.do_sample) {
    // Beam sampling keeps one token beyond the eos tokens so a beam can always continue.
    const int64_t keep = g.num_beams > 1 ? std::max<int64_t>(2, static_cast<int64_t>(eos.size()) + 1) : 1;
    if (g.temperature != 1.0) list.add(std::make_shared<TemperatureLogitsWarper>(g.temperature));
    if (g.top_h) list.add(std::make_shared<TopHLogitsWarper>(*g.top_h));
    if (g.top_k != 0) list.add(std::make_shared<TopKLogitsWarper>(g.top_k, keep));
    if (g.top_p < 1.0) list.add(std::make_shared<TopPLogitsWarper>(g.top_p, keep));
    if (g.min_p > 0.0) list.add(std::make_shared<MinPLogitsWarper>(g.min_p, keep));
    if (g.typical_p < 1.0) list.add(std::make_shared<TypicalLogitsWarper>(g.typical_p, keep));
    if (g.epsilon_cutoff > 0.0 && g.epsilon_cutoff < 1.0)
      list.add(std::make_shared<EpsilonLogitsWarper>(g.epsilon_cutoff, keep));
    if (g.eta_cutoff > 0.0 && g.eta_cutoff < 1.0) list.add(std::make_shared<EtaLogitsWarper>(g.eta_cutoff, keep));
  }
  if (g.renormalize_logits) list.add(std::make_shared<LogitNormalization>());
  return list;
}

}  // namespace transformers
