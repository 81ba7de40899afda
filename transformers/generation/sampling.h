// Token choice: argmax and seeded multinomial sampling.
//
// The generator is std::mt19937_64, whose output sequence the C++ standard fixes, so a seed
// reproduces the same tokens on every compiler and platform. Uniform numbers are the top 53 bits
// of one draw scaled by 2^-53 (not std::uniform_real_distribution, whose algorithm is left to
// the library). Sampling walks the probabilities in token order and returns the first token whose
// cumulative mass exceeds u * total (inverse CDF), so results do not depend on any sort.
// PyTorch's generator is not reproduced: a seed here gives the same output as the same seed here,
// not as torch.manual_seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace transformers {

class SamplingRng {
 public:
  explicit SamplingRng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

 private:
  std::mt19937_64 engine_;
};

// A seed for runs that gave none (std::random_device).
uint64_t random_seed();

// Index of the largest score (the first on ties, as torch.argmax).
int64_t argmax(std::span<const float> scores);

// softmax(scores) in double; -inf scores get probability 0.
std::vector<double> softmax(std::span<const float> scores);

// One draw from the (unnormalised, non-negative) weights.
int64_t sample_index(std::span<const double> weights, SamplingRng& rng);

// k draws without replacement (torch.multinomial(replacement=False)): each draw removes the
// chosen entry and renormalises. Throws ValueError when fewer than k entries have weight > 0.
std::vector<int64_t> sample_without_replacement(std::vector<double> weights, int64_t k, SamplingRng& rng);

}  // namespace transformers
