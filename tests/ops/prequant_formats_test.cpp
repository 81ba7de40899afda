// The block dtypes of pre-quantized checkpoints (Q4_Z, F8_B128, MXFP4; ops/cpu/prequant_blocks.h):
// the e4m3 / e2m1 / e8m0 decoders against the OCP definitions code by code, hand-worked blocks,
// and every tier's linear (dequant_rows + sgemm) against the scalar reference.
#include <cmath>
#include <cstring>
#include <random>

#include "common/test_util.h"
#include "kernel_test_util.h"
#include "transformers/core/half.h"
#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/prequant_blocks.h"

namespace transformers {
namespace {

// OCP 8-bit Floating Point Specification (OFP8) rev 1.0, E4M3: exponent bias 7, no infinities,
// S.1111.111 NaN; value = (-1)^S * 2^(E-7) * (1 + M/8), subnormals (E = 0) 2^-6 * M/8. Computed
// here in double with pow, from the bit fields, independently of the decoder's ldexp form.
double ocp_e4m3(int code) {
  const int s = code >> 7, e = (code >> 3) & 15, m = code & 7;
  const double mag = e == 0 ? std::pow(2.0, -6) * (m / 8.0) : std::pow(2.0, e - 7) * (1.0 + m / 8.0);
  return s ? -mag : mag;
}

TEST(PrequantCodec, E4M3DecodesAll256CodesAsTheOcpDefinition) {
  for (int c = 0; c < 256; ++c) {
    const float v = cpu::e4m3_to_f32(static_cast<uint8_t>(c));
    if ((c & 0x7f) == 0x7f) {
      EXPECT_TRUE(std::isnan(v)) << c;
      continue;
    }
    EXPECT_EQ(static_cast<double>(v), ocp_e4m3(c)) << "code " << c;
    EXPECT_EQ(std::signbit(v), c >= 128) << c;
    EXPECT_EQ(cpu::f32_to_e4m3(v), c) << "round trip of code " << c;
  }
  // Anchors from the specification's table: max normal 448, min normal 2^-6, min subnormal 2^-9.
  EXPECT_EQ(cpu::e4m3_to_f32(0x7e), 448.0f);
  EXPECT_EQ(cpu::e4m3_to_f32(0x08), 0.015625f);
  EXPECT_EQ(cpu::e4m3_to_f32(0x01), 0.001953125f);
  EXPECT_EQ(cpu::e4m3_to_f32(0x38), 1.0f);
  // Encoding: ties to even mantissa (1 + 1/16 between 1 and 1.125 -> 1), saturation at 448.
  EXPECT_EQ(cpu::f32_to_e4m3(1.0625f), 0x38);
  EXPECT_EQ(cpu::f32_to_e4m3(1.1875f), 0x3a);  // between 1.125 (odd) and 1.25 (even)
  EXPECT_EQ(cpu::f32_to_e4m3(1000.0f), 0x7e);
  EXPECT_EQ(cpu::f32_to_e4m3(-1000.0f), 0xfe);
}

TEST(PrequantCodec, E2M1AndE8M0MatchTheMxDefinitions) {
  // OCP MX rev 1.0: E2M1 bias 1, E=0 subnormal 0.5 * M; E8M0 = 2^(E-127), 0xFF NaN.
  const float e2m1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  for (int c = 0; c < 16; ++c) EXPECT_EQ(cpu::e2m1_to_f32(static_cast<uint8_t>(c)), (c & 8 ? -1 : 1) * e2m1[c & 7]);
  EXPECT_EQ(cpu::e8m0_to_f32(127), 1.0f);
  EXPECT_EQ(cpu::e8m0_to_f32(130), 8.0f);
  EXPECT_EQ(cpu::e8m0_to_f32(0), std::ldexp(1.0f, -127));
  EXPECT_EQ(cpu::e8m0_to_f32(254), std::ldexp(1.0f, 127));
  EXPECT_TRUE(std::isnan(cpu::e8m0_to_f32(255)));
}

// Q4_Z: d = 0.5 (f16 0x3800), zero 16 (GPTQ v1's largest), q[j] = j % 16: x = 0.5 * (q - 16).
// F8_B128: s = 0.25, codes 0x38 (1.0) and 0xb8 (-1.0). MXFP4: e = 128 (x2), byte 0x7a: element 0
// low nibble 0xa (-1.0), element 1 high nibble 0x7 (6.0).
TEST(PrequantCodec, HandWorkedBlocksDecode) {
  uint8_t q[32];
  for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(j % 16);
  unsigned char z[cpu::kQ4ZBytes];
  cpu::pack_q4_z_block(q, 0x3800, 16, z);
  EXPECT_EQ(z[4], 0x00);
  EXPECT_EQ(z[5], 0x11);
  float out[128];
  cpu::weight_format(DType::Q4_Z).dequantize(z, out, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.5f * static_cast<float>(j % 16 - 16)) << j;

  unsigned char f8[cpu::kF8B128Bytes];
  const float s = 0.25f;
  std::memcpy(f8, &s, 4);
  for (int j = 0; j < 128; ++j) f8[4 + j] = j % 2 ? 0xb8 : 0x38;
  cpu::weight_format(DType::F8_B128).dequantize(f8, out, 128);
  EXPECT_EQ(out[0], 0.25f);
  EXPECT_EQ(out[127], -0.25f);

  unsigned char mx[cpu::kMxfp4Bytes] = {128, 0x7a};
  cpu::weight_format(DType::MXFP4).dequantize(mx, out, 32);
  EXPECT_EQ(out[0], -2.0f);
  EXPECT_EQ(out[1], 12.0f);
  EXPECT_EQ(out[2], 0.0f);
}

class PrequantTier : public ::testing::TestWithParam<cpu::Isa> {};
INSTANTIATE_TEST_SUITE_P(Tiers, PrequantTier, ::testing::ValuesIn(cpu::supported_isas()),
                         [](const auto& info) { return std::string(cpu::isa_name(info.param)); });

// Each tier's linear (panels dequantized, sgemm) against the reference (the exact values, double
// sums), for M on both sides of the GEMV / GEMM switch, with bias and a pool; dequant_rows byte
// for byte against the format's codec.
TEST_P(PrequantTier, LinearMatchesTheReference) {
  const cpu::Kernels& tier = *cpu::kernels_for(GetParam());
  std::mt19937 rng(5);
  ThreadPool pool(3);
  for (DType dt : {DType::Q4_Z, DType::F8_B128, DType::MXFP4}) {
    const int64_t N = 45, K = 128 * 3;
    const auto wf = testing::random_floats(N * K, rng);
    std::vector<unsigned char> w(dtype_nbytes(dt, N * K));
    cpu::weight_format(dt).quantize(wf.data(), w.data(), N * K);
    std::vector<float> w_deq(N * K);
    cpu::weight_format(dt).dequantize(w.data(), w_deq.data(), N * K);
    for (int64_t M : {1, 3, 8, 70}) {
      const int64_t ldx = K + 3, ldy = N + 1;
      const auto x = testing::random_floats(M * ldx, rng);
      const auto bias = testing::random_floats(N, rng);
      std::vector<float> scale(M * ldy, 0.0f);
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t k = 0; k < K; ++k) scale[m * ldy + n] += std::fabs(x[m * ldx + k] * w_deq[n * K + k]);
      std::vector<float> want(M * ldy, 7.0f), got(M * ldy, 7.0f);
      cpu::reference_kernels().linear(x.data(), M, K, ldx, w.data(), dt, N, bias.data(), want.data(), ldy, nullptr);
      tier.linear(x.data(), M, K, ldx, w.data(), dt, N, bias.data(), got.data(), ldy, &pool);
      testing::expect_close(got, want, scale, 1e-6f, 1e-6f,
                            std::string(cpu::weight_format(dt).name) + " M=" + std::to_string(M));
      if (HasFailure()) return;
    }
    std::vector<float> rows(2 * K, -1.0f);
    tier.weight(dt).dequant_rows(w.data(), K, 11, 2, rows.data());
    EXPECT_EQ(0, std::memcmp(rows.data(), w_deq.data() + 11 * K, rows.size() * sizeof(float)));
  }
}

// MXFP4 blocks with every e8m0 scale (0: the subnormal 2^-127; 255: NaN), Q4_Z blocks with every
// zero up to 16 (GPTQ v1's largest) and F8_B128 blocks holding every e4m3 code (subnormals, -0,
// both NaNs), decoded by each tier (the lookup kernels' dequant_rows) bit for bit as the codec
// decodes them.
TEST_P(PrequantTier, LookupDecodersMatchTheCodecOnEveryScaleAndZero) {
  const cpu::Kernels& tier = *cpu::kernels_for(GetParam());
  std::mt19937 rng(6);
  std::uniform_int_distribution<int> byte(0, 255);
  auto bits_of = [](const std::vector<float>& v) {
    std::vector<uint32_t> b(v.size());
    std::memcpy(b.data(), v.data(), v.size() * sizeof(float));
    return b;
  };
  std::vector<unsigned char> mx(256 * cpu::kMxfp4Bytes);
  for (int e = 0; e < 256; ++e) {
    unsigned char* b = mx.data() + e * cpu::kMxfp4Bytes;
    b[0] = static_cast<unsigned char>(e);
    for (int j = 1; j < cpu::kMxfp4Bytes; ++j) b[j] = static_cast<unsigned char>(byte(rng));
  }
  std::vector<unsigned char> z(17 * cpu::kQ4ZBytes);
  for (int zero = 0; zero <= 16; ++zero) {
    std::vector<uint8_t> q(32);
    for (auto& v : q) v = static_cast<uint8_t>(byte(rng) & 15);
    cpu::pack_q4_z_block(q.data(), static_cast<uint16_t>(0x3400 + 97 * zero), static_cast<uint8_t>(zero),
                         z.data() + zero * cpu::kQ4ZBytes);
  }
  std::vector<unsigned char> f8(2 * cpu::kF8B128Bytes);
  for (int i = 0; i < 2; ++i) {
    const float scale = i ? 0.37f : 3.0e-3f;
    std::memcpy(f8.data() + i * cpu::kF8B128Bytes, &scale, 4);
    for (int c = 0; c < 128; ++c) f8[i * cpu::kF8B128Bytes + 4 + c] = static_cast<unsigned char>(128 * i + c);
  }
  for (const auto& [dt, blocks] : {std::pair<DType, const std::vector<unsigned char>*>{DType::MXFP4, &mx},
                                   {DType::Q4_Z, &z}, {DType::F8_B128, &f8}}) {
    const int64_t block = dtype_block_elements(dt);
    const int64_t n = static_cast<int64_t>(blocks->size() / dtype_nbytes(dt, block)) * block;
    std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n), -1.0f);
    cpu::weight_format(dt).dequantize(blocks->data(), want.data(), n);
    tier.weight(dt).dequant_rows(blocks->data(), block, 0, n / block, got.data());
    EXPECT_EQ(bits_of(got), bits_of(want)) << cpu::weight_format(dt).name;
  }
}

}  // namespace
}  // namespace transformers
