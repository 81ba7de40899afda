// The sampling warpers (v5 applies them only with do_sample) and LogitNormalization. They follow
// logits_process.py operation by operation (sort direction, strict vs non-strict comparisons,
// which end min_tokens_to_keep protects), since those details decide ties and edge cases.
// Probabilities are computed in double: the thresholds compare them, and float rounding would
// make a hand-computed boundary case depend on summation order.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "transformers/generation/logits_processors.h"
#include "transformers/generation/sampling.h"

namespace transformers {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Indices sorted by score (stable, so equal scores keep token order as a tie-break).
std::vector<size_t> order_by(std::span<const double> key, bool descending) {
  std::vector<size_t> idx(key.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return descending ? key[a] > key[b] : key[a] < key[b]; });
  return idx;
}

std::vector<double> as_double(std::span<const float> s) { return {s.begin(), s.end()}; }

// The score of the k-th largest entry (k >= 1).
float kth_largest(std::span<const float> s, int64_t k) {
  std::vector<float> copy(s.begin(), s.end());
  std::nth_element(copy.begin(), copy.begin() + (k - 1), copy.end(), std::greater<float>());
  return copy[static_cast<size_t>(k - 1)];
}

// Epsilon and eta: remove tokens below `threshold`, except those scoring at least the
// min_tokens_to_keep-th largest score.
void remove_below(std::span<float> scores, const std::vector<double>& probs, double threshold, int64_t min_keep) {
  const int64_t k = std::min<int64_t>(min_keep, static_cast<int64_t>(scores.size()));
  const float guard = k > 0 ? kth_largest(scores, k) : std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < scores.size(); ++i)
    if (probs[i] < threshold && scores[i] < guard) scores[i] = kNegInf;
}

}  // namespace

TemperatureLogitsWarper::TemperatureLogitsWarper(double t) : temperature_(static_cast<float>(t)) {
  TCPP_CHECK(t > 0, ValueError, "temperature has to be a strictly positive float, got ", t);
}

void TemperatureLogitsWarper::apply(std::span<const int64_t>, std::span<float> scores) const {
  for (float& s : scores) s /= temperature_;
}

TopHLogitsWarper::TopHLogitsWarper(double top_h) : top_h_(top_h) {
  TCPP_CHECK(top_h > 0 && top_h <= 1, ValueError, "top_h must be in the range (0, 1], got ", top_h);
}

void TopHLogitsWarper::apply(std::span<const int64_t>, std::span<float> scores) const {
  const size_t n = std::min<size_t>(100, scores.size());  // v5's cap on the candidates
  const std::vector<size_t> desc = order_by(as_double(scores), /*descending=*/true);
  std::vector<float> top(n);
  for (size_t r = 0; r < n; ++r) top[r] = scores[desc[r]];
  const std::vector<double> p = softmax(top);
  std::vector<double> term(n, 0.0);
  double entropy = 0;
  for (size_t r = 0; r < n; ++r)
    if (p[r] > 0) entropy += (term[r] = -p[r] * std::log(p[r]));
  // Keep while the cumulative entropy stays <= tau; a zero-probability entry (a -inf score) is
  // NaN in v5's cumulative sum and so never kept, nor anything after it.
  std::vector<bool> keep(scores.size(), false);
  double cum = 0;
  for (size_t r = 0; r < n; ++r) {
    if (p[r] <= 0) break;
    cum += term[r];
    if (r == 0 || cum <= entropy * top_h_) keep[desc[r]] = true;
  }
  for (size_t i = 0; i < scores.size(); ++i)
    if (!keep[i]) scores[i] = kNegInf;
}

TopKLogitsWarper::TopKLogitsWarper(int64_t top_k, int64_t min_keep) : top_k_(std::max(top_k, min_keep)) {
  TCPP_CHECK(top_k > 0, ValueError, "top_k has to be a strictly positive integer, got ", top_k);
}

void TopKLogitsWarper::apply(std::span<const int64_t>, std::span<float> scores) const {
  const int64_t k = std::min<int64_t>(top_k_, static_cast<int64_t>(scores.size()));
  const float threshold = kth_largest(scores, k);
  for (float& s : scores)
    if (s < threshold) s = kNegInf;
}

TopPLogitsWarper::TopPLogitsWarper(double top_p, int64_t min_keep) : top_p_(top_p), min_keep_(min_keep) {
  TCPP_CHECK(top_p >= 0 && top_p <= 1, ValueError, "top_p has to be a float in [0, 1], got ", top_p);
  TCPP_CHECK(min_keep >= 1, ValueError, "min_tokens_to_keep has to be a positive integer, got ", min_keep);
}

void TopPLogitsWarper::apply(std::span<const int64_t>, std::span<float> scores) const {
  const std::vector<double> p = softmax(scores);
  const std::vector<size_t> asc = order_by(as_double(scores), /*descending=*/false);
  // Ascending order: drop the low tail whose cumulative mass stays <= 1 - top_p; the last
  // min_tokens_to_keep (the highest) always stay.
  double cum = 0;
  const size_t protect_from = asc.size() - std::min<size_t>(asc.size(), static_cast<size_t>(min_keep_));
  for (size_t r = 0; r < protect_from; ++r) {
    cum += p[asc[r]];
    if (cum <= 1.0 - top_p_) scores[asc[r]] = kNegInf;
    else break;
  }
}

MinPLogitsWarper::MinPLogitsWarper(double min_p, int64_t min_keep) : min_p_(min_p), min_keep_(min_keep) {
  TCPP_CHECK(min_p >= 0 && min_p <= 1, ValueError, "min_p has to be a float in [0, 1], got ", min_p);
  TCPP_CHECK(min_keep >= 1, ValueError, "min_tokens_to_keep has to be a positive integer, got ", min_keep);
}

void MinPLogitsWarper::apply(std::span<const int64_t>, std::span<float> scores) const {
  const std::vector<double> p = softmax(scores);
  const double threshold = min_p_ * *std::max_element(p.begin(), p.end());
  const std::vector<size_t> desc = order_by(as_double(scores), /*descending=*/true);
  for (size_t r = static_cast<size_t>(min_keep_); r < desc.size(); ++r)
    if (p[desc[r]] < threshold) scores[desc[r]] = kNegInf;
}

TypicalLogitsWarper::TypicalLogitsWarper(double mass, int64_t min_keep) : mass_(mass), min_keep_(min_keep) {
  TCPP_CHECK(mass > 0 && mass < 1, ValueError, "typical_p has to be a float in (0, 1), got ", mass);
  TCPP_CHECK(min_keep >= 1, ValueError, "min_tokens_to_keep has to be a positive integer, got ", min_keep);
}

void TypicalLogitsWarper::apply(std::span<const int64_t>, std::span<float> scores) const {
  const std::vector<double> p = softmax(scores);
  double entropy = 0;  // nansum: tokens with p = 0 contribute nothing
  for (double v : p)
    if (v > 0) entropy -= v * std::log(v);
  // Distance of each token's surprisal from the entropy; -inf scores sit at +inf distance.
  std::vector<double> shifted(p.size());
  for (size_t i = 0; i < p.size(); ++i)
    shifted[i] = p[i] > 0 ? std::abs(-std::log(p[i]) - entropy) : std::numeric_limits<double>::infinity();
  const std::vector<size_t> asc = order_by(shifted, /*descending=*/false);
  // last_ind = how many sorted tokens have cumulative mass < typical_p (capped at V - 1).
  size_t last = 0;
  double cum = 0;
  for (size_t r = 0; r < asc.size(); ++r) {
    cum += p[asc[r]];
    if (cum < mass_) ++last;
  }
  last = std::min(last, asc.size() - 1);
  const double cutoff = shifted[asc[last]];
  for (size_t r = static_cast<size_t>(min_keep_); r < asc.size(); ++r)
    if (shifted[asc[r]] > cutoff) scores[asc[r]] = kNegInf;
}

EpsilonLogitsWarper::EpsilonLogitsWarper(double epsilon, int64_t min_keep) : epsilon_(epsilon), min_keep_(min_keep) {
  TCPP_CHECK(epsilon > 0 && epsilon < 1, ValueError, "epsilon_cutoff has to be a float in (0, 1), got ", epsilon);
  TCPP_CHECK(min_keep >= 1, ValueError, "min_tokens_to_keep has to be a positive integer, got ", min_keep);
}

void EpsilonLogitsWarper::apply(std::span<const int64_t>, std::span<float> scores) const {
  remove_below(scores, softmax(scores), epsilon_, min_keep_);
}

EtaLogitsWarper::EtaLogitsWarper(double epsilon, int64_t min_keep) : epsilon_(epsilon), min_keep_(min_keep) {
  TCPP_CHECK(epsilon > 0 && epsilon < 1, ValueError, "eta_cutoff has to be a float in (0, 1), got ", epsilon);
  TCPP_CHECK(min_keep >= 1, ValueError, "min_tokens_to_keep has to be a positive integer, got ", min_keep);
}

void EtaLogitsWarper::apply(std::span<const int64_t>, std::span<float> scores) const {
  const std::vector<double> p = softmax(scores);
  double entropy = 0;
  for (double v : p)
    if (v > 0) entropy -= v * std::log(v);
  const double eta = std::min(epsilon_, std::sqrt(epsilon_) * std::exp(-entropy));
  remove_below(scores, p, eta, min_keep_);
}

void LogitNormalization::apply(std::span<const int64_t>, std::span<float> scores) const {
  double mx = -std::numeric_limits<double>::infinity();
  for (float v : scores) mx = std::max<double>(mx, v);
  if (mx == -std::numeric_limits<double>::infinity()) return;
  double sum = 0;
  for (float v : scores) sum += std::exp(static_cast<double>(v) - mx);
  const double log_z = mx + std::log(sum);
  for (float& v : scores) v = static_cast<float>(static_cast<double>(v) - log_z);
}

}  // namespace transformers
