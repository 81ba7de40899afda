// The quantizers' scale searches (ops/cpu/quant_search.h) on every vector tier against the scalar
// search, bit for bit: scales, mins and levels of groups that visit the searches' corners (flat
// groups, all-zero groups, one-signed groups, outliers, tiny values, group counts that do not fill
// the last vector). The scalar search itself matches llama.cpp's (tests/gguf/ggml_quantizer_test).
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kernel_test_util.h"
#include "transformers/ops/cpu/quant_search.h"

namespace transformers {
namespace {

class QuantSearchTier : public ::testing::TestWithParam<cpu::Isa> {};

std::vector<float> corner_groups(int groups, int n, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(groups * n));
  for (int g = 0; g < groups; ++g)
    for (int i = 0; i < n; ++i) {
      float v = normal(rng);
      switch (g % 7) {
        case 1: v = std::fabs(v); break;          // one sign
        case 2: v = 0.0f; break;                  // all zero
        case 3: v = 0.25f; break;                 // flat
        case 4: v *= i == 5 ? 30.0f : 1.0f; break;  // an outlier
        case 5: v *= 1e-4f; break;                // tiny
        case 6: v = -std::fabs(v) - 1.0f; break;  // negative, away from zero
        default: break;
      }
      x[static_cast<size_t>(g * n + i)] = v;
    }
  return x;
}

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

TEST_P(QuantSearchTier, ScaleAndMinSearchIsTheScalarSearch) {
  const cpu::QuantSearch& scalar = *cpu::quant_search_for(cpu::Isa::Scalar);
  const cpu::QuantSearch& tier = *cpu::quant_search_for(GetParam());
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> weight(0.0f, 3.0f);
  // Q4_K's and Q5_K's reference and weighted parameters, over 37 groups of 32.
  struct Params {
    int nmax;
    float rmin, rdelta;
    int nstep;
  };
  for (const Params p : {Params{15, -1.0f, 0.1f, 20}, Params{31, -0.5f, 0.1f, 15}, Params{15, -0.9f, 0.05f, 36}}) {
    const int groups = 37, n = 32;
    const std::vector<float> x = corner_groups(groups, n, rng);
    std::vector<float> w(x.size());
    for (auto& v : w) v = weight(rng);
    std::vector<uint8_t> L0(x.size()), L1(x.size());
    std::vector<float> s0(groups), s1(groups), m0(groups), m1(groups);
    scalar.fit_scale_min_groups(x.data(), w.data(), groups, n, p.nmax, p.rmin, p.rdelta, p.nstep, L0.data(), s0.data(),
                                m0.data());
    tier.fit_scale_min_groups(x.data(), w.data(), groups, n, p.nmax, p.rmin, p.rdelta, p.nstep, L1.data(), s1.data(),
                              m1.data());
    EXPECT_TRUE(same_bits(L0, L1)) << "nmax " << p.nmax;
    EXPECT_TRUE(same_bits(s0, s1)) << "nmax " << p.nmax;
    EXPECT_TRUE(same_bits(m0, m1)) << "nmax " << p.nmax;
  }
}

TEST_P(QuantSearchTier, SignedScaleSearchIsTheScalarSearch) {
  const cpu::QuantSearch& scalar = *cpu::quant_search_for(cpu::Isa::Scalar);
  const cpu::QuantSearch& tier = *cpu::quant_search_for(GetParam());
  std::mt19937 rng(10);
  std::uniform_real_distribution<float> weight(0.0f, 3.0f);
  // Q6_K (16 of 16, nmax 32, x^2 or given weights) and weighted Q4_0 (32, nmax 8).
  for (const auto [n, nmax, weighted] : {std::tuple{16, 32, false}, std::tuple{16, 32, true}, std::tuple{32, 8, true}}) {
    const int groups = 23;
    const std::vector<float> x = corner_groups(groups, n, rng);
    std::vector<float> w(x.size());
    for (auto& v : w) v = weight(rng);
    std::vector<uint8_t> L0(x.size()), L1(x.size());
    std::vector<float> s0(groups), s1(groups);
    scalar.fit_signed_scale_groups(x.data(), weighted ? w.data() : nullptr, groups, n, nmax, L0.data(), s0.data());
    tier.fit_signed_scale_groups(x.data(), weighted ? w.data() : nullptr, groups, n, nmax, L1.data(), s1.data());
    EXPECT_TRUE(same_bits(L0, L1)) << n << " " << nmax << " " << weighted;
    EXPECT_TRUE(same_bits(s0, s1)) << n << " " << nmax << " " << weighted;
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, QuantSearchTier, ::testing::ValuesIn(testing::vector_tiers()),
                         testing::tier_label);

}  // namespace
}  // namespace transformers
