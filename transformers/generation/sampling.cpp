#include "transformers/generation/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "transformers/core/error.h"

namespace transformers {

uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

int64_t argmax(std::span<const float> scores) {
  TCPP_CHECK(!scores.empty(), ValueError, "argmax of an empty row");
  // std::max_element returns the first maximum; NaN never compares greater, as in torch where
  // a NaN row would be a model bug anyway.
  return std::max_element(scores.begin(), scores.end()) - scores.begin();
}

std::vector<double> softmax(std::span<const float> s) {
  double mx = -std::numeric_limits<double>::infinity();
  for (float v : s) mx = std::max<double>(mx, v);
  std::vector<double> p(s.size(), 0.0);
  if (mx == -std::numeric_limits<double>::infinity()) return p;
  double sum = 0;
  for (size_t i = 0; i < s.size(); ++i) sum += (p[i] = std::exp(static_cast<double>(s[i]) - mx));
  for (double& v : p) v /= sum;
  return p;
}

int64_t sample_index(std::span<const double> w, SamplingRng& rng) {
  double total = 0;
  for (double v : w) total += v;
  TCPP_CHECK(total > 0 && std::isfinite(total), ValueError,
             "sampling: the probabilities sum to ", total, " (every token was filtered out, or the logits hold inf/nan)");
  const double target = rng.uniform() * total;
  double cum = 0;
  int64_t last_positive = -1;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] <= 0) continue;
    cum += w[i];
    last_positive = static_cast<int64_t>(i);
    if (cum > target) return last_positive;
  }
  return last_positive;  // rounding left target at the very top: the last token with mass
}

std::vector<int64_t> sample_without_replacement(std::vector<double> w, int64_t k, SamplingRng& rng) {
  const auto positive = std::count_if(w.begin(), w.end(), [](double v) { return v > 0; });
  TCPP_CHECK(positive >= k, ValueError, "sampling: ", k, " draws without replacement from ", positive,
             " tokens with non-zero probability");
  std::vector<int64_t> out;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t j = sample_index(w, rng);
    out.push_back(j);
    w[static_cast<size_t>(j)] = 0;
  }
  return out;
}

}  // namespace transformers
