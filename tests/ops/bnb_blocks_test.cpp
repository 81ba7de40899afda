// bitsandbytes' 4-bit formats NF4 and FP4: the codec against blocks worked by hand from the
// published code books (bitsandbytes' nibble order, absmax, nearest code), and their tensors
// through the op API. Every vector tier against the scalar reference: quant_kernels_test.cpp.
#include "transformers/ops/cpu/bnb_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "common/test_util.h"
#include "kernel_test_util.h"
#include "quant_test_util.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::quantized;
using testing::random_floats;

float absmax_of(const std::vector<unsigned char>& b, int block) {
  float a;
  std::memcpy(&a, b.data() + block * 36, 4);
  return a;
}

// The NF4 code book (QLoRA's normal quantiles; bitsandbytes' table):
//   0 -1.0     1 -0.6962  2 -0.5251  3 -0.3949  4 -0.2844  5 -0.1848  6 -0.0911  7 0.0
//   8 0.0796   9 0.1609  10 0.2461  11 0.3379  12 0.4407  13 0.5626  14 0.7230  15 1.0
// Block 0: x[j] = 2 * code[j % 16] for j < 32, so absmax = 2, x / 2 is the code itself and the
// nibble is j % 16; element 2j is the high nibble: bytes 0x01, 0x23, ... 0xEF, twice. Then
// x / 2 = 0.03 -> 7 (below the 0/0.0796 midpoint 0.0398), 0.05 -> 8, -0.05 -> 6 (below the
// -0.0911/0 midpoint -0.0455), -0.04 -> 7, 0.9 -> 15 (above 0.8615), 0.85 -> 14; zeros -> 7.
// Block 1: all zero: absmax 0 and nibble 0, as bitsandbytes (its 0 * (1/0) is NaN, which its
// tree sends to code 0); it dequantizes to zeros.
// Block 2: absmax 3: 1 * (1/3) = 0.3333 -> 11 (0.3379; midpoints 0.2920, 0.3893), -1 -> 4
// (-0.2844; midpoints -0.3397, -0.2346), 0.5 -> 0.1667 -> 9 (0.1609; midpoints 0.1203, 0.2035).
TEST(BnbCodec, Nf4MatchesHandWorkedBlocks) {
  const float* code = cpu::nf4_code_book();
  EXPECT_EQ(code[0], -1.0f);
  EXPECT_EQ(code[7], 0.0f);
  EXPECT_EQ(code[8], 0.07958029955625534f);
  EXPECT_EQ(code[15], 1.0f);
  std::vector<float> x(3 * 64, 0.0f);
  for (int j = 0; j < 32; ++j) x[j] = 2.0f * code[j % 16];
  const float near[] = {0.03f, 0.05f, -0.05f, -0.04f, 0.9f, 0.85f};
  for (int j = 0; j < 6; ++j) x[32 + j] = 2.0f * near[j];
  x[128] = 3.0f, x[129] = 1.0f, x[130] = -1.0f, x[131] = 0.5f;
  const auto b = quantized(DType::NF4, x);
  ASSERT_EQ(b.size(), 3u * 36u);
  EXPECT_EQ(absmax_of(b, 0), 2.0f);
  const unsigned char want0[32] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45,
                                   0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x78, 0x67, 0xFE, 0x77, 0x77, 0x77,
                                   0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77};
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b[4 + j], want0[j]) << "block 0 byte " << j;
  EXPECT_EQ(absmax_of(b, 1), 0.0f);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b[36 + 4 + j], 0x00) << "block 1 byte " << j;
  EXPECT_EQ(absmax_of(b, 2), 3.0f);
  EXPECT_EQ(b[72 + 4], 0xFB);
  EXPECT_EQ(b[72 + 5], 0x49);
  EXPECT_EQ(b[72 + 6], 0x77);
  std::vector<float> back(3 * 64, -7.0f);
  cpu::weight_format(DType::NF4).dequantize(b.data(), back.data(), 3 * 64);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(back[j], x[j]) << j;  // the codes times 2, exactly
  EXPECT_EQ(back[36], 2.0f * 1.0f);
  for (int j = 64; j < 128; ++j) EXPECT_EQ(back[j], 0.0f) << j;
  EXPECT_EQ(back[129], 0.33791524171829224f * 3.0f);
}

// FP4 (bitsandbytes' e2m1, bias 3, over 12): magnitude codes 000 0, 001 0.0625, 110 2, 111 3,
// 100 4, 101 6, 010 8, 011 12 (all / 12), bit 3 the sign. With absmax 12 the block's values are
// those magnitudes: x = 0, 0.0625, 8, 12, 4, 6, 2, 3 -> nibbles 0..7 -> bytes 0x01 0x23 0x45 0x67;
// their negatives -> 8..15, except -0.0, which bitsandbytes' `x < 0` keeps at +0 (nibble 0):
// bytes 0x09 0xAB 0xCD 0xEF. 12 * 0.29 / 12 = 0.29 -> 0b111 (0.25; midpoints 0.2083, 0.2917),
// 12 * 0.3 -> 0b100 (0.3333): byte 0x74. Zeros -> 0x00.
TEST(BnbCodec, Fp4MatchesHandWorkedBlocks) {
  const float* code = cpu::fp4_code_book();
  EXPECT_EQ(code[3], 1.0f);
  EXPECT_EQ(code[11], -1.0f);
  EXPECT_EQ(code[1], 0.005208333333f);
  const float mags[8] = {0.0f, 0.0625f, 8.0f, 12.0f, 4.0f, 6.0f, 2.0f, 3.0f};
  std::vector<float> x(64, 0.0f);
  for (int j = 0; j < 8; ++j) {
    x[j] = mags[j];
    x[8 + j] = -mags[j];
  }
  x[16] = 12.0f * 0.29f, x[17] = 12.0f * 0.3f;
  const auto b = quantized(DType::FP4, x);
  EXPECT_EQ(absmax_of(b, 0), 12.0f);
  const unsigned char want[10] = {0x01, 0x23, 0x45, 0x67, 0x09, 0xAB, 0xCD, 0xEF, 0x74, 0x00};
  for (int j = 0; j < 10; ++j) EXPECT_EQ(b[4 + j], want[j]) << "byte " << j;
  std::vector<float> back(64);
  cpu::weight_format(DType::FP4).dequantize(b.data(), back.data(), 64);
  for (int j = 0; j < 16; ++j)
    EXPECT_NEAR(back[j], x[j], 1e-5f) << j;  // the codes are exact up to f32
  EXPECT_EQ(back[16], 0.25f * 12.0f);
  EXPECT_EQ(back[17], 0.33333333f * 12.0f);
}

// A value is mapped to its nearest code in either book (checked against a plain nearest search
// on values that are not midpoints).
TEST(BnbCodec, NibblesAreTheNearestCodes) {
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int i = 0; i < 20000; ++i) {
    const float s = u(rng);
    for (auto [book, nibble] : {std::pair{cpu::nf4_code_book(), cpu::nf4_nibble(s)},
                                std::pair{cpu::fp4_code_book(), cpu::fp4_nibble(s)}}) {
      int best = 0;
      for (int q = 1; q < 16; ++q)
        if (std::fabs(book[q] - s) < std::fabs(book[best] - s)) best = q;
      ASSERT_NEAR(std::fabs(book[nibble] - s), std::fabs(book[best] - s), 1e-6f) << s;
    }
  }
}

// Through the op API: ops::cast quantizes and dequantizes, and a linear of an NF4 matrix (and of a
// view of its rows) is the f32 linear of the dequantized matrix.
TEST(BnbOps, CastAndLinearOfBnbTensors) {
  std::mt19937 rng(5);
  const int64_t N = 12, H = 128;
  const Tensor wf = Tensor::from_values(random_floats(N * H, rng), {N, H});
  for (DType dt : {DType::NF4, DType::FP4}) {
    const Tensor w = ops::cast(wf, dt);
    ASSERT_EQ(w.dtype(), dt);
    const Tensor deq = ops::cast(w, DType::F32);
    EXPECT_LE(testing::max_abs_diff(deq, wf), 0.25f * 4.0f)
        << dtype_torch_name(dt);  // within a code step
    const Tensor x = Tensor::from_values(random_floats(3 * H, rng), {3, H});
    EXPECT_LE(testing::max_abs_diff(ops::linear(x, w), ops::linear(x, deq)), 1e-4f);
    EXPECT_LE(
        testing::max_abs_diff(ops::linear(x, w.slice(0, 2, 5)), ops::linear(x, deq.slice(0, 2, 5))),
        1e-4f);
  }
}

// ---- Double quantization (bnb_4bit_use_double_quant)

// bitsandbytes' create_dynamic_map(signed=True): its algorithm run on PyTorch 1.13 (f32 linspace
// and products; tests/ops/reference/bnb_dynamic_map.py prints these), index = sorted position;
// and the sums of |code| and code^2 over all 256 entries from the same run.
TEST(BnbDoubleQuant, DynamicCodeBookIsBitsandbytes) {
  const float* code = cpu::bnb_dynamic_code_book();
  const std::pair<int, float> torch_values[] = {
      {0, -0.992968738079071f},       {1, -0.9789062142372131f},    {2, -0.96484375f},
      {30, -0.5710937976837158f},     {63, -0.10703125596046448f},  {64, -0.09859374910593033f},
      {96, -0.009718749672174454f},   {100, -0.0074687497690320015f}, {112, -0.0009437500848434865f},
      {120, -8.874999912222847e-05f}, {126, -5.500000384017767e-07f}, {127, 0.0f},
      {128, 5.500000384017767e-07f},  {131, 2.1249998098937795e-05f}, {133, 6.625000241911039e-05f},
      {137, 0.0003812500217463821f},  {140, 0.0007187500596046448f}, {150, 0.0052187503315508366f},
      {159, 0.011406250298023224f},   {170, 0.04234374687075615f},   {190, 0.09859374910593033f},
      {191, 0.10703125596046448f},    {200, 0.23359376192092896f},   {223, 0.5570312738418579f},
      {240, 0.7960937023162842f},     {253, 0.9789062142372131f},    {254, 0.992968738079071f},
      {255, 1.0f}};
  for (auto [i, v] : torch_values) EXPECT_EQ(code[i], v) << "code[" << i << "]";
  double abs_sum = 0, square_sum = 0;
  for (int i = 0; i < 256; ++i) abs_sum += std::fabs(code[i]), square_sum += static_cast<double>(code[i]) * code[i];
  EXPECT_NEAR(abs_sum, 75.10526275849304, 1e-12);
  EXPECT_NEAR(square_sum, 48.59583695086447, 1e-12);
  // And each entry is the algorithm's value (computed here in double) to f32 rounding.
  std::vector<double> exact{0.0, 1.0};
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < (1 << i); ++j) {
      const double mid = 0.1 + 0.9 * (j + 0.5) / (1 << i);
      exact.push_back(mid * std::pow(10.0, i - 6));
      exact.push_back(-mid * std::pow(10.0, i - 6));
    }
  std::sort(exact.begin(), exact.end());
  for (int i = 0; i < 256; ++i) EXPECT_NEAR(code[i], exact[i], 2e-7 * std::fabs(exact[i])) << i;
  for (int i = 1; i < 256; ++i) EXPECT_LT(code[i - 1], code[i]) << i;
}

// absmax (1, 2, 3): offset = mean = 2, centred (-1, 0, 1), nested absmax 1, so the scaled values
// are -1, 0, 1: nearest codes 0 (-0.99296874, the book has no -1), 127 (0) and 255 (1).
// Dequantized: code * 1 + 2 = 1.0070312, 2, 3.
TEST(BnbDoubleQuant, HandWorkedAbsmaxVector) {
  const float absmax[] = {1.0f, 2.0f, 3.0f};
  const cpu::BnbNestedAbsmax n = cpu::bnb_double_quantize(absmax, 3);
  EXPECT_EQ(n.offset, 2.0f);
  ASSERT_EQ(n.nested_absmax.size(), 1u);
  EXPECT_EQ(n.nested_absmax[0], 1.0f);
  EXPECT_EQ(n.q, (std::vector<uint8_t>{0, 127, 255}));
  float back[3];
  cpu::bnb_dequantize_nested(n.q.data(), 3, n.nested_absmax.data(), cpu::bnb_dynamic_code_book(), n.offset, back);
  EXPECT_EQ(back[0], -0.992968738079071f + 2.0f);
  EXPECT_EQ(back[1], 2.0f);
  EXPECT_EQ(back[2], 3.0f);
}

// A whole NF4 tensor (300 blocks: two nested blocks of 256 and 44): the nibbles stay, and each
// absmax becomes the value of the definition, computed here by a brute-force nearest-code search.
TEST(BnbDoubleQuant, TensorAbsmaxIsWhatBitsandbytesDequantizes) {
  std::mt19937 rng(8);
  const int64_t N = 150, K = 128;  // 2 blocks per row, 300 in all
  const Tensor w = ops::cast(Tensor::from_values(random_floats(N * K, rng), {N, K}), DType::NF4);
  const Tensor d = ops::bnb_double_quantize(w);
  const auto* a = static_cast<const unsigned char*>(w.raw_data());
  const auto* b = static_cast<const unsigned char*>(d.raw_data());
  const int64_t n = N * K / 64;
  std::vector<float> absmax(n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += absmax[i] = absmax_of({a + i * 36, a + i * 36 + 36}, 0);
  const float offset = static_cast<float>(sum / n);
  const float* code = cpu::bnb_dynamic_code_book();
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(0, std::memcmp(a + i * 36 + 4, b + i * 36 + 4, 32)) << "nibbles of block " << i;
    const int64_t b0 = i / 256 * 256, b1 = std::min<int64_t>(n, b0 + 256);
    float nested = 0;
    for (int64_t j = b0; j < b1; ++j) nested = std::max(nested, std::fabs(absmax[j] - offset));
    const float s = (absmax[i] - offset) * (1.0f / nested);
    int best = 0;
    for (int q = 1; q < 256; ++q)
      if (std::fabs(code[q] - s) < std::fabs(code[best] - s)) best = q;
    EXPECT_EQ(absmax_of({b + i * 36, b + i * 36 + 36}, 0), code[best] * nested + offset) << "block " << i;
  }
}

}  // namespace
}  // namespace transformers
