// Every kernel of the AVX2 table against the scalar reference table on random data of awkward
// sizes (tails of the 8/16/64-wide loops, single elements, sizes across the GEMV/GEMM switch),
// with and without bias, on no pool, a 1-thread pool and a 3-thread pool.
//
// Tolerances: both tables read the same stored weight bits and convert them exactly, so the only
// legitimate difference is the order (and precision) of accumulation. Sums are compared against
// rel * sum|terms| with rel growing like sqrt(K); a wrong element, a dropped tail or a mangled
// bf16/f16 conversion (relative error >= 2^-11) is orders of magnitude above that.
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "common/test_util.h"
#include "ops/kernel_test_util.h"
#include "ops/quant_test_util.h"
#include "transformers/ops/cpu/kernels.h"

namespace transformers {
namespace {

using testing::abs_of;
using testing::dtype_label;
using testing::expect_close;
using testing::random_floats;
using testing::random_weights;
using testing::vector_tiers;

const cpu::Kernels& ref() { return cpu::reference_kernels(); }

class TierTest : public ::testing::TestWithParam<cpu::Isa> {
 protected:
  const cpu::Kernels& tier() const { return *cpu::kernels_for(GetParam()); }
};

#define TIER_SUITE(name)   \
  class name : public TierTest {}; \
  INSTANTIATE_TEST_SUITE_P(Tiers, name, ::testing::ValuesIn(testing::vector_tiers()), testing::tier_label)
TIER_SUITE(LinearKernel);
TIER_SUITE(WeightKernelTable);
TIER_SUITE(VectorKernels);
TIER_SUITE(AttentionTileKernels);
TIER_SUITE(ConversionKernels);

const int64_t kSizes[] = {1, 7, 8, 9, 15, 16, 17, 33, 63, 65, 4097};

// ---------------------------------------------------------------------------------------------
// linear

struct LinearCase {
  int64_t M, N, K;
};

// Shapes around the kernels' unrolls (4 rows of W, 8 floats of K), the GEMV->small GEMM switch (M 8),
// the small GEMM's tiles (8 rows of x on AVX-512, 4 on AVX2) and its end (M 32 -> 33),
// the 16/64-row task and block boundaries, and enough rows for several pool tasks.
std::vector<LinearCase> linear_cases() {
  std::vector<LinearCase> cases;
  const std::pair<int64_t, int64_t> nk[] = {{1, 1}, {7, 9}, {9, 33}, {33, 7}, {67, 100}, {130, 257}, {4099, 17}};
  for (int64_t m : {1, 2, 3, 4, 5, 7, 8, 9, 17, 32, 33})
    for (auto [n, k] : nk) cases.push_back({m, n, k});
  // Long rows (a K that is not a multiple of 8) with many row tasks, for a few M only (the
  // scalar reference is slow).
  for (int64_t m : {1, 3, 9}) cases.push_back({m, 517, 4097});
  // The GEMM's blocks: rows of x past one 128-row block, K past one 512-float block (with a tail
  // that is not a multiple of the vector width), tiles cut at every edge.
  cases.push_back({133, 29, 1031});
  return cases;
}

// x as a product of `path` sees it: rounded to bf16 where the tier's gemm multiplies bf16
// activations (VDPBF16PS), unchanged otherwise.
std::vector<float> as_seen_by(const cpu::WeightKernels& wk, bool gemm_path, std::vector<float> x) {
  if (gemm_path && wk.gemm_activation == cpu::WeightFormat::ActivationFormat::BF16)
    for (auto& v : x) v = bf16_to_f32(f32_to_bf16(v));
  return x;
}

float linear_rel_tolerance(int64_t K) { return 1e-6f * (4.0f + std::sqrt(static_cast<float>(K))); }

TEST_P(LinearKernel, MatchesReferenceForEveryDtypeShapeBiasAndPool) {
  const cpu::Kernels& fast = tier();
  std::mt19937 rng(1234);
  ThreadPool pool1(1), pool3(3);
  ThreadPool* pools[] = {nullptr, &pool1, &pool3};
  const char* pool_names[] = {"no pool", "pool of 1", "pool of 3"};
  constexpr float kSentinel = 12345.0f;
  for (const LinearCase& c : linear_cases()) {
    // Strided x and y (ldx > K, ldy > N) so that a kernel assuming contiguity fails.
    const int64_t ldx = c.K + 3, ldy = c.N + 2;
    std::vector<float> x = random_floats(c.M * ldx, rng);
    std::vector<float> bias = random_floats(c.N, rng);
    for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
      auto w = random_weights(dt, c.N * c.K, rng);
      auto w_abs = w.abs();
      const std::vector<float> x_seen = as_seen_by(fast.weight(dt), cpu::linear_uses_gemm(fast.weight(dt), c.M), x);
      std::vector<float> x_abs = abs_of(x_seen), bias_abs = abs_of(bias);
      for (bool with_bias : {false, true}) {
        std::vector<float> want(c.M * ldy, kSentinel), scale(c.M * ldy, 0.0f);
        ref().linear(x_seen.data(), c.M, c.K, ldx, w.data(), dt, c.N, with_bias ? bias.data() : nullptr, want.data(), ldy,
                     nullptr);
        ref().linear(x_abs.data(), c.M, c.K, ldx, w_abs.data(), dt, c.N, with_bias ? bias_abs.data() : nullptr,
                     scale.data(), ldy, nullptr);
        for (int p = 0; p < 3; ++p) {
          std::vector<float> got(c.M * ldy, kSentinel);
          fast.linear(x.data(), c.M, c.K, ldx, w.data(), dt, c.N, with_bias ? bias.data() : nullptr, got.data(), ldy,
                      pools[p]);
          std::string what = "linear M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) +
                             " K=" + std::to_string(c.K) + " " + dtype_label(dt) + (with_bias ? " +bias " : " ") +
                             pool_names[p];
          // The padding columns of y (n >= N) carry the sentinel in both: the kernel must not write them.
          expect_close(got, want, scale, linear_rel_tolerance(c.K), 1e-30f, what);
          if (HasFailure()) return;  // one broken configuration is enough to read
        }
      }
    }
  }
}

// Each weight format's table entry on its own (gemv and gemm over a row range [n0, n1) that does
// not start at 0, dequant_rows of a middle block) against the reference table's entry.
TEST_P(WeightKernelTable, EveryFormatEntryMatchesTheReference) {
  const cpu::Kernels& fast = tier();
  std::mt19937 rng(77);
  const int64_t N = 41, K = 531, n0 = 5, n1 = 38;
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    const cpu::WeightKernels &r = ref().weight(dt), &f = fast.weight(dt);
    auto w = random_weights(dt, N * K, rng);
    auto w_abs = w.abs();
    // M from a partial strip alone to several strips, whole and partial (F32Strips: 8 or 16 rows each).
    for (int64_t M : {1, 3, 8, 13, 17, 32, 37, 70}) {
      const int64_t ldx = K + 1, ldy = N + 3;
      const std::vector<float> x = random_floats(M * ldx, rng);
      const std::string what = std::string(cpu::weight_format(dt).name) + " M=" + std::to_string(M);
      // gemv, gemm, and small_gemm (gemm's contract and activation format, for few rows).
      for (int path = 0; path < 3; ++path) {
        const bool gemm_path = path > 0;
        const auto gemm = path == 1 ? f.gemm : f.small_gemm;
        if (gemm_path && !gemm) continue;
        const std::vector<float> x_seen = as_seen_by(f, gemm_path, x), x_abs = abs_of(x_seen);
        std::vector<float> want(M * ldy, 0.0f), scale(M * ldy, 0.0f), got(M * ldy, 0.0f);
        r.gemv(x_seen.data(), M, K, ldx, w.data(), n0, n1, want.data(), ldy);
        r.gemv(x_abs.data(), M, K, ldx, w_abs.data(), n0, n1, scale.data(), ldy);
        if (!gemm_path) {
          f.gemv(x.data(), M, K, ldx, w.data(), n0, n1, got.data(), ldy);
        } else if (f.convert_x && (path == 1 || cpu::small_gemm_takes_converted_x(f))) {
          // gemm takes x in its activation format, made by convert_x
          std::vector<float> converted(M * K);  // room for M * K elements of any format up to 4 bytes
          f.convert_x(x.data(), M, K, ldx, converted.data());
          gemm(converted.data(), M, K, K, w.data(), n0, n1, got.data(), ldy);
        } else {
          gemm(x.data(), M, K, ldx, w.data(), n0, n1, got.data(), ldy);
        }
        const char* names[] = {"gemv ", "gemm ", "small_gemm "};
        expect_close(got, want, scale, linear_rel_tolerance(K), 1e-30f, names[path] + what);
      }
    }
    std::vector<float> want(3 * K), got(3 * K, -1.0f);
    r.dequant_rows(w.data(), K, 7, 3, want.data());
    f.dequant_rows(w.data(), K, 7, 3, got.data());
    EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float))) << "dequant_rows " << dtype_label(dt);
  }
}

// convert_x rounds exactly as the scalar f32 -> bf16 conversion (nearest even, quiet NaN), in the
// vector body and the tail, for ordinary, tie, infinite and NaN values; a subnormal may become a
// zero of its sign (VCVTNE2PS2BF16 treats denormal inputs as zero; far below any activation that
// matters to an f32 sum).
TEST_P(WeightKernelTable, ConvertXRoundsLikeTheScalarConversion) {
  const cpu::Kernels& fast = tier();
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    const cpu::WeightKernels& f = fast.weight(dt);
    if (!f.convert_x || f.gemm_activation == cpu::WeightFormat::ActivationFormat::F32Strips) continue;
    ASSERT_EQ(f.gemm_activation, cpu::WeightFormat::ActivationFormat::BF16);
    std::mt19937 rng(5);
    const int64_t M = 3, K = 45, ldx = 47;
    std::vector<float> x = random_floats(M * ldx, rng);
    const float specials[] = {std::bit_cast<float>(0x3f808000u), std::bit_cast<float>(0x3f818000u), 1e-40f,
                              std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                              std::numeric_limits<float>::quiet_NaN(), std::bit_cast<float>(0x7f800001u)};
    for (size_t i = 0; i < std::size(specials); ++i) {
      x[i] = specials[i];                      // the vector body of row 0
      x[2 * ldx + 40 + i % 5] = specials[i];  // the tail of row 2
    }
    std::vector<uint16_t> got(M * K);
    f.convert_x(x.data(), M, K, ldx, got.data());
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) {
        const float v = x[m * ldx + k];
        const uint16_t want = f32_to_bf16(v), have = got[m * K + k];
        if (std::isnan(v))
          EXPECT_TRUE(std::isnan(bf16_to_f32(have))) << "row " << m << " col " << k;
        else if (std::fpclassify(v) == FP_SUBNORMAL && (have & 0x7fffu) == 0)
          EXPECT_EQ(have >> 15, want >> 15) << "sign of a flushed subnormal, row " << m << " col " << k;
        else
          EXPECT_EQ(have, want) << "row " << m << " col " << k << " value " << v;
      }
  }
}

// A dtype that is not a weight format is an error naming it, never a product of zeros.
TEST_P(WeightKernelTable, NonWeightDtypesAreRefused) {
  const cpu::Kernels& fast = tier();
  float x[4] = {1, 2, 3, 4}, y[4] = {};
  const int32_t w[4] = {1, 1, 1, 1};
  for (const cpu::Kernels* table : {&ref(), &fast}) {
    EXPECT_THROW(table->linear(x, 1, 4, 4, w, DType::I32, 1, nullptr, y, 1, nullptr), ValueError) << table->name;
    EXPECT_THROW(table->to_f32(w, DType::I64, y, 1), ValueError) << table->name;
    EXPECT_THROW(table->from_f32(x, y, DType::U8, 1), ValueError) << table->name;
  }
  try {
    cpu::weight_format(DType::Bool);
    ADD_FAILURE() << "weight_format(Bool) did not throw";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("BOOL"), std::string::npos) << e.what();
  }
}

// A weight matrix whose f16 elements are subnormal, infinite or NaN must flow through exactly
// as the scalar conversion reads them.
TEST_P(LinearKernel, F16SpecialWeightsConvertLikeTheReference) {
  const cpu::Kernels& fast = tier();
  const int64_t N = 5, K = 19;
  std::vector<uint16_t> w(N * K);
  for (int64_t i = 0; i < N * K; ++i) w[i] = static_cast<uint16_t>((i * 37) % 0x3ff + 1);  // subnormals
  w[3 * K + 4] = 0x7c00;                                                                    // +inf in row 3
  w[4 * K + 9] = 0x7e00;                                                                    // NaN in row 4
  for (int64_t M : {1, 9}) {
    std::vector<float> xs(M * K, 1.0f), wantm(M * N), gotm(M * N);
    ref().linear(xs.data(), M, K, K, w.data(), DType::F16, N, nullptr, wantm.data(), N, nullptr);
    fast.linear(xs.data(), M, K, K, w.data(), DType::F16, N, nullptr, gotm.data(), N, nullptr);
    for (int64_t m = 0; m < M; ++m) {
      EXPECT_EQ(gotm[m * N + 3], INFINITY) << "M=" << M;
      EXPECT_TRUE(std::isnan(gotm[m * N + 4])) << "M=" << M;
      for (int64_t n = 0; n < 3; ++n) EXPECT_NEAR(gotm[m * N + n], wantm[m * N + n], 1e-6f * std::fabs(wantm[m * N + n]));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// reductions and elementwise maps

TEST_P(VectorKernels, DotMatchesReference) {
  const cpu::Kernels& fast = tier();
  std::mt19937 rng(1);
  for (int64_t n : kSizes) {
    auto a = random_floats(n, rng), b = random_floats(n, rng);
    auto aa = abs_of(a), ab = abs_of(b);
    float want = ref().dot(a.data(), b.data(), n), scale = ref().dot(aa.data(), ab.data(), n);
    expect_close({fast.dot(a.data(), b.data(), n)}, {want}, {scale}, linear_rel_tolerance(n), 0, "dot n=" + std::to_string(n));
  }
}

TEST_P(VectorKernels, AxpyAddMulScaleMatchReference) {
  const cpu::Kernels& fast = tier();
  std::mt19937 rng(2);
  for (int64_t n : kSizes) {
    auto a = random_floats(n, rng), b = random_floats(n, rng);
    const std::string sz = " n=" + std::to_string(n);
    {  // axpy: the vector path fuses the multiply-add (one rounding instead of two)
      auto want = b, got = b;
      ref().axpy(0.75f, a.data(), want.data(), n);
      fast.axpy(0.75f, a.data(), got.data(), n);
      std::vector<float> scale(n);
      for (int64_t i = 0; i < n; ++i) scale[i] = 0.75f * std::fabs(a[i]) + std::fabs(b[i]);
      expect_close(got, want, scale, 2e-7f, 0, "axpy" + sz);
    }
    std::vector<float> want(n), got(n);
    ref().add(a.data(), b.data(), want.data(), n);
    fast.add(a.data(), b.data(), got.data(), n);
    EXPECT_EQ(got, want) << "add" << sz;
    ref().mul(a.data(), b.data(), want.data(), n);
    fast.mul(a.data(), b.data(), got.data(), n);
    EXPECT_EQ(got, want) << "mul" << sz;
    ref().scale(a.data(), -1.5f, want.data(), n);
    fast.scale(a.data(), -1.5f, got.data(), n);
    EXPECT_EQ(got, want) << "scale" << sz;
    // In place (out aliases the first input), as ops/ calls them.
    got = a;
    fast.add(got.data(), b.data(), got.data(), n);
    ref().add(a.data(), b.data(), want.data(), n);
    EXPECT_EQ(got, want) << "add in place" << sz;
  }
}

TEST_P(VectorKernels, NormsMatchReference) {
  const cpu::Kernels& fast = tier();
  std::mt19937 rng(3);
  for (int64_t n : kSizes) {
    auto x = random_floats(n, rng, 3.0f), w = random_floats(n, rng), b = random_floats(n, rng);
    const std::string sz = " n=" + std::to_string(n);
    for (bool unit_offset : {false, true}) {
      std::vector<float> want(n), got(n);
      ref().rms_norm_row(x.data(), w.data(), 1e-6f, unit_offset, want.data(), n);
      fast.rms_norm_row(x.data(), w.data(), 1e-6f, unit_offset, got.data(), n);
      expect_close(got, want, {}, 2e-5f, 1e-6f, std::string("rms_norm unit_offset=") + (unit_offset ? "1" : "0") + sz);
    }
    // layer_norm with and without weight and bias; a large mean tests the two-pass variance.
    auto shifted = x;
    for (auto& v : shifted) v += 100.0f;
    for (const float* wp : {static_cast<const float*>(nullptr), static_cast<const float*>(w.data())})
      for (const float* bp : {static_cast<const float*>(nullptr), static_cast<const float*>(b.data())})
        for (const auto* in : {&x, &shifted}) {
          if (n == 1) continue;  // variance 0: both give b exactly, tested below
          std::vector<float> want(n), got(n);
          ref().layer_norm_row(in->data(), wp, bp, 1e-5f, want.data(), n);
          fast.layer_norm_row(in->data(), wp, bp, 1e-5f, got.data(), n);
          expect_close(got, want, {}, 1e-4f, 2e-5f,
                       std::string("layer_norm") + (wp ? " w" : "") + (bp ? " b" : "") + (in == &shifted ? " +100" : "") + sz);
        }
  }
  float one = 7.0f, w1 = 2.0f, b1 = 0.5f, out = 0;
  fast.layer_norm_row(&one, &w1, &b1, 1e-5f, &out, 1);
  EXPECT_EQ(out, 0.5f);
}

TEST_P(VectorKernels, SoftmaxMatchesReferenceWithMaskedEntries) {
  const cpu::Kernels& fast = tier();
  std::mt19937 rng(4);
  for (int64_t n : kSizes) {
    auto x = random_floats(n, rng, 10.0f);
    for (int64_t i = 0; i < n; i += 3) x[i] = -INFINITY;  // masked keys, as attention writes them
    if (n > 1) x[n - 1] = 80.0f;                          // a large logit (exp would overflow unshifted)
    auto want = x, got = x;
    ref().softmax_row(want.data(), n);
    fast.softmax_row(got.data(), n);
    expect_close(got, want, {}, 1e-5f, 1e-7f, "softmax n=" + std::to_string(n));
    double sum = 0;
    for (float v : got) sum += v;
    EXPECT_NEAR(sum, n == 1 ? 0.0 : 1.0, 1e-5) << "softmax sums to one, n=" << n;  // n=1: the only entry is masked
  }
  std::vector<float> all_masked(9, -INFINITY);
  fast.softmax_row(all_masked.data(), 9);
  for (float v : all_masked) EXPECT_EQ(v, 0.0f);
}

// Activations over a range that includes the saturated tails (|x| up to 100).
TEST_P(VectorKernels, ActivationsMatchReference) {
  const cpu::Kernels& fast = tier();
  std::mt19937 rng(5);
  using Unary = void (*)(float*, int64_t);
  using Gated = void (*)(const float*, const float*, float*, int64_t);
  const struct {
    const char* name;
    Unary ref_fn, fast_fn;
  } unary[] = {{"silu", ref().silu, fast.silu}, {"gelu", ref().gelu, fast.gelu}, {"gelu_tanh", ref().gelu_tanh, fast.gelu_tanh}};
  const struct {
    const char* name;
    Gated ref_fn, fast_fn;
  } gated[] = {{"silu_mul", ref().silu_mul, fast.silu_mul}, {"gelu_tanh_mul", ref().gelu_tanh_mul, fast.gelu_tanh_mul}};
  for (int64_t n : kSizes) {
    auto x = random_floats(n, rng, 4.0f), up = random_floats(n, rng);
    for (int64_t i = 0; i < n; i += 5) x[i] *= 25.0f;
    const std::string sz = " n=" + std::to_string(n);
    for (const auto& f : unary) {
      auto want = x, got = x;
      f.ref_fn(want.data(), n);
      f.fast_fn(got.data(), n);
      expect_close(got, want, {}, 1e-5f, 1e-6f, f.name + sz);
    }
    for (const auto& f : gated) {
      std::vector<float> want(n), got(n);
      f.ref_fn(x.data(), up.data(), want.data(), n);
      f.fast_fn(x.data(), up.data(), got.data(), n);
      expect_close(got, want, {}, 1e-5f, 1e-6f, f.name + sz);
    }
  }
}

// SiLU's gated backward against the double-precision reference, with either output absent.
TEST_P(VectorKernels, SiluMulBackwardMatchesReference) {
  const cpu::Kernels& fast = tier();
  std::mt19937 rng(6);
  for (int64_t n : kSizes) {
    auto x = random_floats(n, rng, 4.0f), up = random_floats(n, rng), dy = random_floats(n, rng);
    for (int64_t i = 0; i < n; i += 5) x[i] *= 25.0f;  // the saturated tails
    std::vector<float> want_g(n), want_u(n), got_g(n, -7.0f), got_u(n, -7.0f);
    ref().silu_mul_backward(x.data(), up.data(), dy.data(), want_g.data(), want_u.data(), n);
    fast.silu_mul_backward(x.data(), up.data(), dy.data(), got_g.data(), nullptr, n);
    fast.silu_mul_backward(x.data(), up.data(), dy.data(), nullptr, got_u.data(), n);
    const std::string sz = " n=" + std::to_string(n);
    // dgate's slope crosses zero (gate near -1.28): its error is measured against |dy * up|.
    std::vector<float> scale_g(n);
    for (int64_t i = 0; i < n; ++i) scale_g[i] = std::fabs(dy[i] * up[i]);
    expect_close(got_g, want_g, scale_g, 2e-5f, 1e-7f, "silu_mul_backward dgate" + sz);
    expect_close(got_u, want_u, {}, 2e-5f, 1e-6f, "silu_mul_backward dup" + sz);
  }
}

// ---------------------------------------------------------------------------------------------
// attention tiles

TEST_P(AttentionTileKernels, DotTileMatchesReference) {
  const cpu::Kernels& fast = tier();
  std::mt19937 rng(8);
  for (int64_t ra : {1, 2, 3, 7, 64})
    for (int64_t rb : {1, 3, 4, 5, 64})
      for (int64_t n : {1, 7, 8, 13, 64, 128}) {
        const int64_t lda = n + 5, ldb = n + 3, ldo = rb + 2;
        auto a = random_floats(ra * lda, rng), b = random_floats(rb * ldb, rng);
        auto aa = abs_of(a), ab = abs_of(b);
        std::vector<float> want(ra * ldo, -1.0f), got(ra * ldo, -1.0f), scale(ra * ldo, 0.0f);
        ref().dot_tile(a.data(), lda, ra, b.data(), ldb, rb, n, want.data(), ldo);
        ref().dot_tile(aa.data(), lda, ra, ab.data(), ldb, rb, n, scale.data(), ldo);
        fast.dot_tile(a.data(), lda, ra, b.data(), ldb, rb, n, got.data(), ldo);
        expect_close(got, want, scale, linear_rel_tolerance(n), 0,
                     "dot_tile " + std::to_string(ra) + "x" + std::to_string(rb) + " n=" + std::to_string(n));
      }
}

TEST_P(AttentionTileKernels, MatmulAccTileMatchesReference) {
  const cpu::Kernels& fast = tier();
  std::mt19937 rng(9);
  for (int64_t rows : {1, 2, 3, 4, 5, 63})
    for (int64_t cols : {1, 7, 64})
      for (int64_t n : {1, 7, 8, 13, 16, 24, 64, 130}) {
        const int64_t ldp = cols + 1, ldv = n + 3, ldy = n + 2;
        auto p = random_floats(rows * ldp, rng), v = random_floats(cols * ldv, rng), y0 = random_floats(rows * ldy, rng);
        auto want = y0, got = y0;
        auto pa = abs_of(p), va = abs_of(v), scale = abs_of(y0);
        ref().matmul_acc_tile(p.data(), ldp, rows, cols, v.data(), ldv, want.data(), ldy, n);
        ref().matmul_acc_tile(pa.data(), ldp, rows, cols, va.data(), ldv, scale.data(), ldy, n);
        fast.matmul_acc_tile(p.data(), ldp, rows, cols, v.data(), ldv, got.data(), ldy, n);
        // Columns d >= n of each row (the stride padding) must stay as they were.
        expect_close(got, want, scale, linear_rel_tolerance(cols), 0,
                     "matmul_acc_tile " + std::to_string(rows) + "x" + std::to_string(cols) + " n=" + std::to_string(n));
      }
}

TEST_P(AttentionTileKernels, ExpShiftSumMatchesReference) {
  const cpu::Kernels& fast = tier();
  std::mt19937 rng(10);
  for (int64_t n : kSizes) {
    auto x = random_floats(n, rng, 5.0f);
    for (int64_t i = 1; i < n; i += 4) x[i] = -INFINITY;
    float shift = *std::max_element(x.begin(), x.end());
    auto want = x, got = x;
    float want_sum = ref().exp_shift_sum(want.data(), shift, n), got_sum = fast.exp_shift_sum(got.data(), shift, n);
    // exp8's range reduction loses a few ulp far below the maximum (relative ~2e-6 at e^-35).
    expect_close(got, want, {}, 5e-6f, 1e-9f, "exp_shift_sum n=" + std::to_string(n));
    expect_close({got_sum}, {want_sum}, {}, 2e-6f, 0, "exp_shift_sum total n=" + std::to_string(n));
    for (int64_t i = 1; i < n; i += 4) EXPECT_EQ(got[i], 0.0f) << "exp(-inf) must be 0";
  }
}

// ---------------------------------------------------------------------------------------------
// dtype conversions: bit-exact, NaN for NaN

bool same_half(uint16_t a, uint16_t b) {
  bool a_nan = (a & 0x7c00u) == 0x7c00u && (a & 0x3ffu), b_nan = (b & 0x7c00u) == 0x7c00u && (b & 0x3ffu);
  return a_nan || b_nan ? a_nan == b_nan : a == b;
}
bool same_float(float a, float b) {
  return std::isnan(a) || std::isnan(b) ? std::isnan(a) == std::isnan(b) : std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

// Floats that stress f32 -> half rounding: random magnitudes over the whole range, halfway
// cases, both subnormal ranges, overflow edges, infinities and NaNs.
std::vector<float> conversion_inputs() {
  std::mt19937 rng(6);
  std::vector<float> v;
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 20000; ++i) v.push_back(std::bit_cast<float>(bits(rng)));
  std::uniform_real_distribution<float> e(-30.0f, 20.0f);
  for (int i = 0; i < 20000; ++i) v.push_back(std::exp2(e(rng)) * (i % 2 ? 1.0f : -1.0f));
  for (uint32_t h = 0; h < 0x7c00u; h += 7) {  // halfway between adjacent halves, and +-1 ulp
    float lo = f16_to_f32_portable(static_cast<uint16_t>(h)), hi = f16_to_f32_portable(static_cast<uint16_t>(h + 1));
    float mid = 0.5f * (lo + hi);
    v.insert(v.end(), {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY), -mid});
  }
  for (uint32_t u = 0x7f7f0000u; u < 0x7f800000u; u += 0x3000u) v.push_back(std::bit_cast<float>(u));  // bf16 overflow edge
  v.insert(v.end(), {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e-8f, 2.98e-8f, 2.99e-8f, 5.96e-8f, 6.1e-5f,
                     std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(), INFINITY, -INFINITY,
                     std::numeric_limits<float>::quiet_NaN(), std::bit_cast<float>(0x7f800001u),
                     std::bit_cast<float>(0xffc00123u)});
  return v;
}

TEST_P(ConversionKernels, ToF32IsExactForEveryHalfBitPattern) {
  const cpu::Kernels& fast = tier();
  std::vector<uint16_t> all(65536 + 5);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  for (DType dt : {DType::BF16, DType::F16}) {
    std::vector<float> want(all.size()), got(all.size());
    ref().to_f32(all.data(), dt, want.data(), static_cast<int64_t>(all.size()));
    fast.to_f32(all.data(), dt, got.data(), static_cast<int64_t>(all.size()));
    int bad = 0;
    for (size_t i = 0; i < all.size() && bad < 5; ++i)
      if (!same_float(got[i], want[i])) {
        ++bad;
        ADD_FAILURE() << dtype_label(dt) << " bits 0x" << std::hex << all[i] << ": " << got[i] << " vs " << want[i];
      }
  }
  std::mt19937 rng(7);
  auto f = random_floats(33, rng);
  std::vector<float> got(33);
  fast.to_f32(f.data(), DType::F32, got.data(), 33);
  EXPECT_EQ(got, f);
}

TEST_P(ConversionKernels, FromF32IsExactIncludingSubnormalsInfAndNaN) {
  const cpu::Kernels& fast = tier();
  const auto in = conversion_inputs();
  const int64_t n = static_cast<int64_t>(in.size());
  for (DType dt : {DType::BF16, DType::F16}) {
    std::vector<uint16_t> want(n), got(n);
    ref().from_f32(in.data(), want.data(), dt, n);
    fast.from_f32(in.data(), got.data(), dt, n);
    int bad = 0;
    for (int64_t i = 0; i < n && bad < 5; ++i)
      if (!same_half(got[i], want[i])) {
        ++bad;
        ADD_FAILURE() << dtype_label(dt) << " of " << in[i] << " (0x" << std::hex << std::bit_cast<uint32_t>(in[i])
                      << "): 0x" << got[i] << " vs reference 0x" << want[i];
      }
  }
}

// The portable f16 conversion (the reference, and the path without F16C) against the F16C
// instructions themselves, in both directions.
__attribute__((target("f16c"))) uint16_t f16c_from_f32(float f) { return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT); }
__attribute__((target("f16c"))) float f16c_to_f32(uint16_t h) { return _cvtsh_ss(h); }

TEST(HalfConversions, PortableHalfMatchesF16C) {
  ASSERT_TRUE(__builtin_cpu_supports("f16c")) << "no F16C on this CPU: the portable conversion cannot be checked";
  int bad = 0;
  for (float f : conversion_inputs()) {
    uint16_t p = f32_to_f16_portable(f), h = f16c_from_f32(f);
    if (!same_half(p, h) && bad++ < 5)
      ADD_FAILURE() << "f32_to_f16_portable(" << f << ") = 0x" << std::hex << p << ", F16C 0x" << h;
  }
  for (uint32_t h = 0; h < 65536; ++h) {
    float p = f16_to_f32_portable(static_cast<uint16_t>(h)), c = f16c_to_f32(static_cast<uint16_t>(h));
    if (!same_float(p, c) && bad++ < 10) ADD_FAILURE() << "f16_to_f32_portable(0x" << std::hex << h << ") = " << p << ", F16C " << c;
  }
  // Known values, so that the two cannot agree on something wrong.
  EXPECT_EQ(f32_to_f16_portable(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16_portable(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16_portable(65520.0f), 0x7c00);               // rounds up to inf
  EXPECT_EQ(f32_to_f16_portable(5.9604645e-8f), 0x0001);          // smallest subnormal
  EXPECT_EQ(f32_to_f16_portable(2.9802322e-8f), 0x0000);          // half of it: ties to even (0)
  EXPECT_EQ(f32_to_f16_portable(-INFINITY), 0xfc00);
  EXPECT_EQ(f16_to_f32_portable(0x0001), 5.9604645e-8f);
  EXPECT_EQ(f16_to_f32_portable(0x03ff), 6.0975552e-5f);
  EXPECT_TRUE(std::isnan(f16_to_f32_portable(0x7e00)));
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);  // halfway 1 + 2^-8 ties to even
  EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3f82);  // halfway 1 + 3*2^-8 ties to even (up)
}


// ---------------------------------------------------------------------------------------------
// transpose (the training GEMMs' operands): an exact copy, checked element by element against
// the index formula, on shapes with and without whole 8 x 8 blocks and with padded strides.

TIER_SUITE(TransposeKernel);

TEST_P(TransposeKernel, EveryElementLandsAtItsTransposedIndex) {
  const cpu::Kernels& fast = tier();
  for (const cpu::Kernels* table : {&ref(), &fast})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{8, 8}, {16, 24}, {13, 21}, {7, 5}, {64, 9}, {1, 33}}) {
      const int64_t lds = cols + 3, ldd = rows + 5;
      std::vector<float> src(static_cast<size_t>(rows * lds));
      for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.25f;
      std::vector<float> dst(static_cast<size_t>(cols * ldd), -1.0f);
      table->transpose(src.data(), rows, cols, lds, dst.data(), ldd);
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t r = 0; r < ldd; ++r)
          ASSERT_EQ(dst[c * ldd + r], r < rows ? src[r * lds + c] : -1.0f)
              << table->name << " " << rows << "x" << cols << " at c=" << c << " r=" << r;
    }
}

}  // namespace
}  // namespace transformers
