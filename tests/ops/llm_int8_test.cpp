// bitsandbytes' LLM.int8 (ops/cpu/llm_int8.h): the row-wise quantizer against a matrix worked by
// hand, and the mixed-precision product (outlier columns in f32, the rest int8 x int8 with
// row-wise scales) on every tier against a reference written here from bitsandbytes' definition
// (int8_vectorwise_quant, int8_linear_matmul, int8_mm_dequant, addmm of the outlier columns),
// summed in double.
#include "transformers/ops/cpu/llm_int8.h"

#include <cmath>
#include <cstring>
#include <random>

#include "common/test_util.h"
#include "kernel_test_util.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

float f32_at(const unsigned char* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// A [3, 64] matrix, quantized as bitsandbytes' Int8Params does (SCB = row absmax, CB = round half
// to even of W * (127 / SCB)):
//   row 0: 127, 2.5, -2.5, 3.5, 0.4, -0.6, rest 0 -> SCB 127, scale 1: CB 127, 2, -2, 4, 0, -1
//          (2.5 -> 2 and -2.5 -> -2: half to even; 3.5 -> 4)
//   row 1: 2, 1, -0.5, 0.25, 0.75, rest 0 -> SCB 2, scale 63.5: 127, 63.5 -> 64 (even),
//          -31.75 -> -32, 15.875 -> 16, 47.625 -> 48
//   row 2: zeros -> SCB 0, CB 0 (bitsandbytes' 0 * (127 / 0) is NaN; zeros here)
// Dequantized: CB * SCB * (1/127): row 1's 64 -> 64 * 2 / 127 = 1.007874.
TEST(LlmInt8Codec, QuantizesAHandWorkedMatrix) {
  std::vector<float> w(3 * 64, 0.0f);
  const float r0[] = {127.0f, 2.5f, -2.5f, 3.5f, 0.4f, -0.6f};
  const float r1[] = {2.0f, 1.0f, -0.5f, 0.25f, 0.75f};
  for (int j = 0; j < 6; ++j) w[j] = r0[j];
  for (int j = 0; j < 5; ++j) w[64 + j] = r1[j];
  const Tensor q = ops::quantize_llm_int8(Tensor::from_values(w, {3, 64}), 4.5f);
  ASSERT_EQ(q.dtype(), DType::LLM_INT8);
  ASSERT_EQ(q.nbytes(), 3u * 72u);
  const auto* b = static_cast<const unsigned char*>(q.raw_data());
  EXPECT_EQ(f32_at(b), 127.0f);
  EXPECT_EQ(f32_at(b + 4), 4.5f);  // the threshold travels with the weight
  EXPECT_EQ(f32_at(b + 72), 2.0f);
  EXPECT_EQ(f32_at(b + 144), 0.0f);
  const int8_t want0[] = {127, 2, -2, 4, 0, -1}, want1[] = {127, 64, -32, 16, 48};
  const auto* cb = reinterpret_cast<const int8_t*>(b);
  for (int j = 0; j < 6; ++j) EXPECT_EQ(cb[8 + j], want0[j]) << "row 0 col " << j;
  for (int j = 0; j < 5; ++j) EXPECT_EQ(cb[72 + 8 + j], want1[j]) << "row 1 col " << j;
  for (int j = 0; j < 64; ++j) EXPECT_EQ(cb[144 + 8 + j], 0) << "row 2 col " << j;
  const Tensor back = ops::cast(q, DType::F32);
  EXPECT_FLOAT_EQ(back.data<float>()[64 + 1], 1.007874f);
  EXPECT_EQ(back.data<float>()[0], 127.0f);
  EXPECT_EQ(back.data<float>()[128], 0.0f);
  // ops::cast uses BitsAndBytesConfig's default threshold.
  EXPECT_EQ(f32_at(static_cast<const unsigned char*>(ops::cast(Tensor::from_values(w, {3, 64}), DType::LLM_INT8)
                                                          .raw_data()) + 4),
            6.0f);
}

// A row of 128 (two blocks): both blocks carry the row's absmax, which lies in the second.
TEST(LlmInt8Codec, TheScaleIsTheWholeRows) {
  std::vector<float> w(128, 0.5f);
  w[100] = -4.0f;
  const Tensor q = ops::cast(Tensor::from_values(w, {1, 128}), DType::LLM_INT8);
  const auto* b = static_cast<const unsigned char*>(q.raw_data());
  EXPECT_EQ(f32_at(b), 4.0f);
  EXPECT_EQ(f32_at(b + 72), 4.0f);
  EXPECT_EQ(reinterpret_cast<const int8_t*>(b)[8], 16);         // 0.5 * 31.75 = 15.875
  EXPECT_EQ(reinterpret_cast<const int8_t*>(b)[72 + 8 + 36], -127);  // element 100
}

// bitsandbytes' product, from its definition, in double where it sums (independent of the kernel).
std::vector<double> reference_product(const std::vector<float>& x, int64_t M, int64_t K, const std::vector<float>& w,
                                      int64_t N, float threshold) {
  // Weights: Int8Params (threshold 0).
  std::vector<int> cb(N * K);
  std::vector<float> scb(N);
  for (int64_t n = 0; n < N; ++n) {
    float mx = 0;
    for (int64_t k = 0; k < K; ++k) mx = std::max(mx, std::fabs(w[n * K + k]));
    scb[n] = mx;
    for (int64_t k = 0; k < K; ++k) cb[n * K + k] = static_cast<int>(std::nearbyint(w[n * K + k] * (127.0f / mx)));
  }
  // Activations: int8_vectorwise_quant(x, threshold).
  std::vector<bool> outlier(K, false);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k)
      if (threshold > 0 && std::fabs(x[m * K + k]) >= threshold) outlier[k] = true;
  std::vector<double> y(M * N);
  for (int64_t m = 0; m < M; ++m) {
    float sca = 0;
    for (int64_t k = 0; k < K; ++k)
      if (!(threshold > 0 && std::fabs(x[m * K + k]) >= threshold)) sca = std::max(sca, std::fabs(x[m * K + k]));
    for (int64_t n = 0; n < N; ++n) {
      long long acc = 0;
      double high = 0;
      for (int64_t k = 0; k < K; ++k) {
        if (outlier[k])
          high += static_cast<double>(x[m * K + k]) * cb[n * K + k] * scb[n] / 127.0;
        else
          acc += static_cast<long long>(std::nearbyint(x[m * K + k] * (127.0f / sca))) * cb[n * K + k];
      }
      y[m * N + n] = static_cast<double>(acc) * sca * scb[n] * 6.200124e-05 + high;  // int8_mm_dequant's 1/127²
    }
  }
  return y;
}

class LlmInt8Product : public ::testing::TestWithParam<cpu::Isa> {};

// x [M, 128] ~ N(0, 1) with two outlier columns (one reaching the threshold in one row only) and
// an element exactly at the threshold (>= counts, as bitsandbytes); M = 1 (decode), 5, 40 (the
// driver's gemm and its thread split). Threshold 0: no outliers, all int8.
TEST_P(LlmInt8Product, MatchesTheDefinition) {
  const cpu::Kernels& tier = *cpu::kernels_for(GetParam());
  std::mt19937 rng(11);
  const int64_t K = 128, N = 72;
  const auto w = testing::random_floats(N * K, rng, 0.2f);
  ThreadPool pool(2);
  for (float threshold : {6.0f, 0.0f})
    for (int64_t M : {1, 5, 40}) {
      auto x = testing::random_floats(M * K, rng);
      x[0 * K + 3] = 9.0f;
      x[(M - 1) * K + 77] = -7.5f;
      if (M > 1) x[1 * K + 20] = 6.0f;
      std::vector<unsigned char> wq(dtype_nbytes(DType::LLM_INT8, N * K));
      for (int64_t n = 0; n < N; ++n)
        cpu::quantize_llm_int8_row(w.data() + n * K, wq.data() + n * 2 * 72, K, threshold);
      const auto want = reference_product(x, M, K, w, N, threshold);
      std::vector<float> bias(N);
      for (int64_t n = 0; n < N; ++n) bias[n] = 0.01f * n;
      for (const cpu::Kernels* k : {&cpu::reference_kernels(), &tier}) {
        std::vector<float> y(M * N, 7.0f);
        k->linear(x.data(), M, K, K, wq.data(), DType::LLM_INT8, N, bias.data(), y.data(), N, &pool);
        double worst = 0;
        for (int64_t i = 0; i < M * N; ++i)
          worst = std::max(worst, std::fabs(y[i] - (want[i] + bias[i % N])) / (1.0 + std::fabs(want[i])));
        EXPECT_LT(worst, 1e-6) << k->name << " M=" << M << " threshold " << threshold;
      }
    }
}

// A file may hold -128 in CB (bitsandbytes never writes it; a stranger's checkpoint can): every
// tier multiplies it as -128, as the scalar reference does (the sign trick negates the weights'
// signs onto x, since -(-128) does not fit int8).
TEST_P(LlmInt8Product, MinusOneTwentyEightInTheWeightsIsMinusOneTwentyEight) {
  const cpu::Kernels& tier = *cpu::kernels_for(GetParam());
  std::mt19937 rng(5);
  const int64_t K = 128, N = 9, M = 3;
  const auto w = testing::random_floats(N * K, rng, 0.2f);
  const auto x = testing::random_floats(M * K, rng);
  std::vector<unsigned char> wq(dtype_nbytes(DType::LLM_INT8, N * K));
  for (int64_t n = 0; n < N; ++n) cpu::quantize_llm_int8_row(w.data() + n * K, wq.data() + n * 2 * 72, K, 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j : {0, 5, 31, 32, 63}) wq[n * 2 * 72 + 72 + 8 + j] = 0x80;  // second block of each row
  // The definition, in double: x quantized per row (absmax / 127), times CB as stored.
  std::vector<float> want(M * N);
  for (int64_t m = 0; m < M; ++m) {
    float sca = 0;
    for (int64_t k = 0; k < K; ++k) sca = std::max(sca, std::fabs(x[m * K + k]));
    for (int64_t n = 0; n < N; ++n) {
      float scb;
      std::memcpy(&scb, wq.data() + n * 2 * 72, 4);
      long long acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const auto q = static_cast<int8_t>(wq[n * 2 * 72 + (k / 64) * 72 + 8 + k % 64]);
        acc += static_cast<long long>(std::nearbyint(x[m * K + k] * (127.0f / sca))) * q;
      }
      want[m * N + n] = static_cast<float>(static_cast<double>(acc) * sca * scb * 6.200124e-05);
    }
  }
  for (const cpu::Kernels* k : {&cpu::reference_kernels(), &tier}) {
    std::vector<float> y(M * N, 7.0f);
    k->linear(x.data(), M, K, K, wq.data(), DType::LLM_INT8, N, nullptr, y.data(), N, nullptr);
    for (int64_t i = 0; i < M * N; ++i)
      EXPECT_NEAR(y[i], want[i], 1e-6 * (1.0 + std::fabs(want[i]))) << k->name << " element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, LlmInt8Product, ::testing::ValuesIn(testing::vector_tiers()), testing::tier_label);

// The outlier columns matter: with them the product is closer to x·Wᵀ in f32 than all-int8 is,
// on activations with a few large features (the case LLM.int8 exists for).
TEST(LlmInt8Op, OutlierColumnsReduceTheError) {
  std::mt19937 rng(5);
  const int64_t M = 8, K = 256, N = 32;
  const auto w = testing::random_floats(N * K, rng, 0.1f);
  auto x = testing::random_floats(M * K, rng, 0.5f);
  for (int64_t m = 0; m < M; ++m) x[m * K + 17] = 40.0f, x[m * K + 200] = -25.0f;
  const Tensor W = Tensor::from_values(w, {N, K}), X = Tensor::from_values(x, {M, K});
  const Tensor exact = ops::linear(X, ops::cast(ops::quantize_llm_int8(W, 6.0f), DType::F32));
  const float mixed = testing::max_abs_diff(ops::linear(X, ops::quantize_llm_int8(W, 6.0f)), exact);
  const float int8 = testing::max_abs_diff(ops::linear(X, ops::quantize_llm_int8(W, 0.0f)), exact);
  EXPECT_LT(mixed * 4, int8) << mixed << " vs " << int8;
}

}  // namespace
}  // namespace transformers
