// Quantized weight formats Q8_0 and Q4_0: the scalar codec against hand-worked blocks (GGML's
// reference rounding, byte for byte), the reference product against values worked by hand, every
// vector tier against the reference, and quantized embeddings / linear through the op API.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "common/test_util.h"
#include "kernel_test_util.h"
#include "quant_test_util.h"
#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/quant_blocks.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::quantized;
using testing::random_floats;
using testing::vector_tiers;

const cpu::Kernels& ref() { return cpu::reference_kernels(); }

using testing::quantized;

// x[j] = (j - 16) / 2: amax 8, d = 8 / 127 = 0.0629921 -> f16 0x2C08 (1.0078125 * 2^-4);
// q = round(x * 127 / 8): -8 -> -127, 0.5 -> round(7.9375) = 8, 1 -> round(15.875) = 16,
// 7.5 -> round(119.0625) = 119, -0.5 -> -8.
TEST(QuantCodec, Q8_0MatchesAHandWorkedBlock) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = (j - 16) * 0.5f;
  const auto b = quantized(DType::Q8_0, x);
  ASSERT_EQ(b.size(), 34u);
  EXPECT_EQ(b[0], 0x08);
  EXPECT_EQ(b[1], 0x2C);
  auto q = [&](int j) { return static_cast<int>(static_cast<int8_t>(b[2 + j])); };
  EXPECT_EQ(q(0), -127);
  EXPECT_EQ(q(15), -8);
  EXPECT_EQ(q(16), 0);
  EXPECT_EQ(q(17), 8);
  EXPECT_EQ(q(18), 16);
  EXPECT_EQ(q(31), 119);
  std::vector<float> back(32);
  cpu::weight_format(DType::Q8_0).dequantize(b.data(), back.data(), 32);
  EXPECT_EQ(back[31], 0.06298828125f * 119);
  EXPECT_EQ(back[0], 0.06298828125f * -127);
}

// Block 1: x[j] = j - 10: the largest magnitude is +21 (j = 31), d = 21 / -8 = -2.625 -> f16
// 0xC140; q = (int)(x / d + 8.5): x = -10 -> 12.31 -> 12, 0 -> 8, 6 (j = 16) -> 6.21 -> 6,
// 21 -> 0.5 -> 0. Byte 0 = q[0] | q[16] << 4 = 0x6C.
// Block 2: [-16, 16, 15, 0, ...]: the first of equal magnitudes wins (-16), d = 2 -> 0x4000;
// -16 -> 0, 16 -> 16.5 clamped to 15, 15 -> 16 clamped to 15, 0 -> 8.
TEST(QuantCodec, Q4_0MatchesHandWorkedBlocks) {
  std::vector<float> x(64, 0.0f);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 10);
  x[32] = -16, x[33] = 16, x[34] = 15;
  const auto b = quantized(DType::Q4_0, x);
  ASSERT_EQ(b.size(), 36u);
  EXPECT_EQ(b[0], 0x40);
  EXPECT_EQ(b[1], 0xC1);
  EXPECT_EQ(b[2 + 0], 0x6C);
  EXPECT_EQ(b[2 + 10] & 0x0f, 8);   // x = 0
  EXPECT_EQ(b[2 + 15] >> 4, 0);     // j = 31: x = 21
  EXPECT_EQ(b[18], 0x00);
  EXPECT_EQ(b[19], 0x40);
  EXPECT_EQ(b[20 + 0] & 0x0f, 0);   // -16
  EXPECT_EQ(b[20 + 1] & 0x0f, 15);  // 16
  EXPECT_EQ(b[20 + 2] & 0x0f, 15);  // 15
  EXPECT_EQ(b[20 + 3] & 0x0f, 8);   // 0
  std::vector<float> back(64);
  cpu::weight_format(DType::Q4_0).dequantize(b.data(), back.data(), 64);
  EXPECT_EQ(back[0], -2.625f * (12 - 8));
  EXPECT_EQ(back[31], -2.625f * (0 - 8));
  EXPECT_EQ(back[33], 2.0f * (15 - 8));
}

// One Q8_0 row (the hand-worked block) times x = all ones: the activations quantize to q = 127,
// d = 1 / 127, so y = d_w * (1/127) * 127 * sum(q_w), with sum(q_w) = sum round((j-16) * 127/16).
// quantize_int8 rounds x / d as std::roundf does (halves away from zero), here with d = 1 (the
// block's largest |x| is 127): the halves, their float neighbours and random values.
TEST(QuantCodec, Int8RoundingIsRoundf) {
  std::vector<float> values;
  for (float h = -126.5f; h <= 126.5f; h += 1.0f)
    for (float v : {h, std::nextafter(h, 0.0f), std::nextafter(h, h > 0 ? 200.0f : -200.0f)}) values.push_back(v);
  for (float v : {0.0f, -0.0f, 0.49999997f, -0.49999997f, 0.5f, -0.5f, 126.99999f, -126.99999f}) values.push_back(v);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-127.0f, 127.0f);
  for (int i = 0; i < 4096; ++i) values.push_back(u(rng));
  for (size_t i = 0; i < values.size(); i += 31) {
    float block[32] = {127.0f};
    const size_t n = std::min<size_t>(31, values.size() - i);
    std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(i), n, block + 1);
    int8_t q[32];
    ASSERT_EQ(cpu::quantize_int8(block, 32, q), 1.0f);
    for (size_t j = 0; j < n; ++j) ASSERT_EQ(q[j + 1], static_cast<int8_t>(std::roundf(block[j + 1]))) << block[j + 1];
  }
}

TEST(QuantCodec, ReferenceProductMatchesTheHandValue) {
  std::vector<float> w(32), x(32, 1.0f);
  int sum_q = 0;
  for (int j = 0; j < 32; ++j) {
    w[j] = (j - 16) * 0.5f;
    sum_q += static_cast<int>(std::round((j - 16) * 127.0 / 16.0));
  }
  const auto b = quantized(DType::Q8_0, w);
  float y = 0;
  ref().linear(x.data(), 1, 32, 32, b.data(), DType::Q8_0, 1, nullptr, &y, 1, nullptr);
  const double want = 0.06298828125 * (1.0f / 127.0f) * 127.0 * sum_q;
  EXPECT_NEAR(y, want, 1e-6);
  EXPECT_NEAR(y, -8.0, 0.07);  // sum(w) = -8, within the quantization error
}

class QuantTier : public ::testing::TestWithParam<cpu::Isa> {};
INSTANTIATE_TEST_SUITE_P(Tiers, QuantTier, ::testing::ValuesIn(testing::vector_tiers()), testing::tier_label);

// The tier's gemm (on the shared activation rows) and its linear driver (activations quantized
// once per call, bias, pools) against the reference, over M across the 64-row pass and N cut at
// every 4-row tile edge. Sums differ only in order (f32 vectors or sgemm on dequantized panels vs
// double), so the tolerance is relative to sum |x| |w|. NF4 / FP4 (bitsandbytes) have no gemm of
// their own: their linear runs on panels made by dequant_rows (Q5_0 and Q5_1, llama.cpp's
// fallbacks for K-quant rows, multiply int8 blocks as Q4_0 does, VNNI steps included; Q5_1 adds
// its min times each block's sum of x). From kPanelGemmMinRows rows on, a
// tier with bf16 panels multiplies bf16-rounded x and W (checked against that product, and its
// panels against the rounded dequantized rows bit for bit).
TEST_P(QuantTier, GemmAndLinearMatchTheReference) {
  const cpu::Kernels& fast = *cpu::kernels_for(GetParam());
  std::mt19937 rng(11);
  ThreadPool pool(3);
  for (DType dt : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q5_1, DType::NF4, DType::FP4}) {
    // An odd block count for the 32-element formats (the VNNI kernels take blocks in pairs).
    const bool int8_kernels = dt == DType::Q8_0 || dt == DType::Q4_0 || dt == DType::Q5_0 || dt == DType::Q5_1;
    const int64_t N = 43, K = dtype_block_elements(dt) == 32 ? 32 * 19 : 64 * 9;
    const auto wf = random_floats(N * K, rng);
    const auto w = quantized(dt, wf);
    std::vector<float> w_deq(N * K);
    cpu::weight_format(dt).dequantize(w.data(), w_deq.data(), N * K);
    const bool panels = fast.weight(dt).dequant_rows_bf16 != nullptr;
    for (int64_t M : {1, 3, 7, 8, 16, 70}) {
      const int64_t ldx = K + 5, ldy = N + 2;
      const auto x = random_floats(M * ldx, rng);
      const auto bias = random_floats(N, rng);
      const auto scale = testing::abs_product(x, M, ldx, w_deq, N, K, ldy);
      const std::string what = std::string(cpu::weight_format(dt).name) + " M=" + std::to_string(M);
      // gemm over rows [5, 42) on activations from the shared quantizer.
      const bool own_gemm = fast.weight(dt).gemm != nullptr;
      EXPECT_EQ(own_gemm, int8_kernels) << what;
      if (own_gemm) {
        // Each tier's gemm on x in its own activation format (the VNNI kernels' differs).
        auto converted = [&](const cpu::WeightKernels& k) {
          std::vector<float> out((M * cpu::activation_row_bytes(k.gemm_activation, K) + 3) / 4);
          k.convert_x(x.data(), M, K, ldx, out.data());
          return out;
        };
        const auto xq_ref = converted(ref().weight(dt)), xq_fast = converted(fast.weight(dt));
        std::vector<float> want(M * ldy, 0.0f), got(M * ldy, 0.0f);
        ref().weight(dt).gemm(xq_ref.data(), M, K, K, w.data(), 5, 42, want.data(), ldy);
        fast.weight(dt).gemm(xq_fast.data(), M, K, K, w.data(), 5, 42, got.data(), ldy);
        testing::expect_close(got, want, scale, 1e-6f, 1e-30f, "gemm " + what);
      }
      // The whole linear, with bias, on a pool.
      std::vector<float> want_l(M * ldy, 7.0f), got_l(M * ldy, 7.0f);
      if (panels && M >= cpu::kPanelGemmMinRows)
        want_l = testing::bf16_panel_product(x, M, K, ldx, w_deq, N, bias, ldy, 7.0f);
      else
        ref().linear(x.data(), M, K, ldx, w.data(), dt, N, bias.data(), want_l.data(), ldy, nullptr);
      fast.linear(x.data(), M, K, ldx, w.data(), dt, N, bias.data(), got_l.data(), ldy, &pool);
      testing::expect_close(got_l, want_l, scale, own_gemm ? 1e-6f : 1e-5f, 1e-6f,
                            "linear " + what);
      if (HasFailure()) return;
    }
    testing::expect_dequant_rows_exact(fast, dt, w, K, w_deq);
  }
}

// Through the op API: a quantized embedding gathers dequantized rows; a quantized linear is the
// f32 linear of the dequantized weights up to the int8 rounding of the activations (< 1%).
TEST(QuantOps, EmbeddingAndLinearOfQuantizedTensors) {
  std::mt19937 rng(3);
  const int64_t V = 10, H = 64;
  const auto wf = random_floats(V * H, rng);
  for (DType dt : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q5_1}) {
    Tensor w = Tensor::empty({V, H}, dt);
    cpu::weight_format(dt).quantize(wf.data(), w.raw_data(), V * H);
    Tensor deq = Tensor::empty({V, H}, DType::F32);
    cpu::weight_format(dt).dequantize(w.raw_data(), deq.data<float>(), V * H);
    Tensor ids = Tensor::from_values(std::vector<int64_t>{3, 0, 9}, {3});
    Tensor e = ops::embedding(w, ids);
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t h = 0; h < H; ++h)
        EXPECT_EQ(e.data<float>()[i * H + h], deq.data<float>()[ids.data<int64_t>()[i] * H + h]);
    Tensor x = Tensor::from_values(random_floats(2 * H, rng), {2, H});
    Tensor y = ops::linear(x, w), y32 = ops::linear(x, deq);
    float scale = 0;
    for (int64_t i = 0; i < y32.numel(); ++i) scale = std::max(scale, std::fabs(y32.data<float>()[i]));
    EXPECT_LE(testing::max_abs_diff(y, y32), 0.02f * scale) << dtype_torch_name(dt);
    // Row views keep working: rows 2..4 of the quantized matrix.
    EXPECT_LE(testing::max_abs_diff(ops::linear(x, w.slice(0, 2, 5)), ops::linear(x, deq.slice(0, 2, 5))),
              0.02f * scale);
  }
}

}  // namespace
}  // namespace transformers
