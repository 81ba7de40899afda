// Helpers of the kernel and op tests: random data in the three weight dtypes, and a comparison
// whose tolerance is stated relative to the size of what was summed (so a wrong index or a
// dropped tail element fails, while a different accumulation order passes).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "transformers/core/dtype.h"
#include "transformers/core/half.h"
#include "transformers/ops/cpu/isa.h"

namespace transformers::testing {

// Every vector tier this CPU runs (AVX2, AVX-512), each checked against the scalar reference.
inline std::vector<cpu::Isa> vector_tiers() {
  std::vector<cpu::Isa> tiers;
  for (cpu::Isa isa : cpu::supported_isas())
    if (isa != cpu::Isa::Scalar) tiers.push_back(isa);
  return tiers;
}
inline std::string tier_label(const ::testing::TestParamInfo<cpu::Isa>& info) { return cpu::isa_name(info.param); }

inline std::vector<float> random_floats(int64_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// A weight matrix stored in `dt`, made from random floats by the scalar conversions of
// core/half.h; both kernel tables read the same bits.
struct StoredWeights {
  DType dtype;
  std::vector<float> f32;
  std::vector<uint16_t> half;
  const void* data() const { return dtype == DType::F32 ? static_cast<const void*>(f32.data()) : half.data(); }
  // The same matrix with every element's sign cleared: linear() on it gives sum |x| |w|, the
  // scale against which accumulation error is measured.
  StoredWeights abs() const {
    StoredWeights a = *this;
    for (auto& v : a.f32) v = std::fabs(v);
    for (auto& h : a.half) h &= 0x7fffu;
    return a;
  }
};

inline StoredWeights random_weights(DType dt, int64_t n, std::mt19937& rng) {
  StoredWeights w{dt, random_floats(n, rng), {}};
  if (dt == DType::F32) return w;
  w.half.resize(w.f32.size());
  for (size_t i = 0; i < w.f32.size(); ++i)
    w.half[i] = dt == DType::BF16 ? f32_to_bf16(w.f32[i]) : f32_to_f16_portable(w.f32[i]);
  w.f32.clear();
  return w;
}

inline std::vector<float> abs_of(std::vector<float> v) {
  for (auto& x : v) x = std::fabs(x);
  return v;
}

// sum_k |x[m, k] w[n, k]| at [m * ldy + n] (M rows of x, N rows of w, K columns): the size of
// what a product sums, against which its accumulation error is measured.
inline std::vector<float> abs_product(const std::vector<float>& x, int64_t M, int64_t ldx, const std::vector<float>& w,
                                      int64_t N, int64_t K, int64_t ldy) {
  std::vector<float> s(static_cast<size_t>(M * ldy), 0.0f);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) s[m * ldy + n] += std::fabs(x[m * ldx + k] * w[n * K + k]);
  return s;
}

// Expects |got[i] - want[i]| <= rel * scale[i] + abs_tol for every i, reporting the first misses.
inline void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& scale,
                         float rel, float abs_tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    float tol = rel * (scale.empty() ? std::fabs(want[i]) : scale[i]) + abs_tol;
    bool ok = std::isnan(want[i]) ? std::isnan(got[i]) : std::fabs(got[i] - want[i]) <= tol;
    if (!ok && reported++ < 5)
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", reference " << want[i] << " (tolerance "
                    << tol << ")";
  }
}

inline const char* dtype_label(DType dt) {
  return dt == DType::F32 ? "f32" : dt == DType::BF16 ? "bf16" : dt == DType::F16 ? "f16" : "?";
}

}  // namespace transformers::testing
