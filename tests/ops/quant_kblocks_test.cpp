// The K-quant super-block formats Q4_K, Q5_K and Q6_K (ops/cpu/quant_kblocks.h): dequantize of
// blocks built byte by byte from GGML's layout with the expected floats worked by hand, the
// quantizers' round-trip error, and every vector tier's kernels against the scalar reference.
#include <cmath>
#include <cstring>
#include <random>

#include "common/test_util.h"
#include "kernel_test_util.h"
#include "quant_test_util.h"
#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/quant_kblocks.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::random_floats;

using testing::dequantized;
using testing::quantized;

// The Q4_K / Q5_K header: d = 0.5 (f16 0x3800), dmin = 0.25 (0x3400), 6-bit scales
// sc = {1, 2, 3, 4, 17, 33, 5, 63} and mins m = {0, 1, 2, 3, 16, 48, 7, 62}, packed by hand:
// bytes 0-3 = sc[j] | (sc[j+4] >> 4) << 6 = 0x41 0x82 0x03 0xC4; bytes 4-7 = m[j] | (m[j+4] >> 4)
// << 6 = 0x40 0xC1 0x02 0xC3; bytes 8-11 = (sc[j+4] & 15) | (m[j+4] & 15) << 4 = 0x01 0x01 0x75
// 0xEF.
void put_header(unsigned char* b) {
  const unsigned char header[16] = {0x00, 0x38, 0x00, 0x34, 0x41, 0x82, 0x03, 0xC4,
                                    0x40, 0xC1, 0x02, 0xC3, 0x01, 0x01, 0x75, 0xEF};
  std::memcpy(b, header, 16);
}
// Nibbles: byte 32c + l holds element 64c + l (low) and 64c + 32 + l (high).
void put_nibbles(unsigned char* qs) {
  qs[0] = 0x3A;        // element 0: q 10 (sub-block 0); element 32: q 3 (sub-block 1)
  qs[64 + 5] = 0xF7;   // element 133: q 7 (sub-block 4); element 165: q 15 (sub-block 5)
  qs[96 + 31] = 0x9E;  // element 223: q 14 (sub-block 6); element 255: q 9 (sub-block 7)
}

// x = d * sc[j] * q - dmin * m[j].
TEST(KQuantCodec, Q4_KDequantizesAHandBuiltBlock) {
  std::vector<unsigned char> b(144, 0);
  put_header(b.data());
  put_nibbles(b.data() + 16);
  const auto x = dequantized(DType::Q4_K, b);
  EXPECT_EQ(x[0], 5.0f);      // 0.5 * 1 * 10 - 0
  EXPECT_EQ(x[1], 0.0f);      // q 0, m 0
  EXPECT_EQ(x[32], 2.75f);    // 0.5 * 2 * 3 - 0.25 * 1
  EXPECT_EQ(x[33], -0.25f);   // 0 - 0.25 * 1
  EXPECT_EQ(x[100], -0.75f);  // sub-block 3, q 0: -0.25 * 3
  EXPECT_EQ(x[133], 55.5f);   // 0.5 * 17 * 7 - 0.25 * 16
  EXPECT_EQ(x[165], 235.5f);  // 0.5 * 33 * 15 - 0.25 * 48
  EXPECT_EQ(x[223], 33.25f);  // 0.5 * 5 * 14 - 0.25 * 7
  EXPECT_EQ(x[255], 268.0f);  // 0.5 * 63 * 9 - 0.25 * 62
}

// Q5_K: the same header and nibbles at byte 48; qh[e % 32] bit e / 32 adds 16 to element e.
TEST(KQuantCodec, Q5_KDequantizesAHandBuiltBlock) {
  std::vector<unsigned char> b(176, 0);
  put_header(b.data());
  b[16 + 0] = 0x03;   // elements 0 and 32
  b[16 + 5] = 0x10;   // element 133 (sub-block 4)
  b[16 + 31] = 0x80;  // element 255 (sub-block 7)
  put_nibbles(b.data() + 48);
  const auto x = dequantized(DType::Q5_K, b);
  EXPECT_EQ(x[0], 13.0f);     // 0.5 * 1 * 26
  EXPECT_EQ(x[32], 18.75f);   // 0.5 * 2 * 19 - 0.25
  EXPECT_EQ(x[133], 191.5f);  // 0.5 * 17 * 23 - 4
  EXPECT_EQ(x[165], 235.5f);  // no fifth bit
  EXPECT_EQ(x[223], 33.25f);  // bit 6 of qh[31] clear
  EXPECT_EQ(x[255], 772.0f);  // 0.5 * 63 * 25 - 15.5
}

// Q6_K: ql[128], qh[64], int8 scales[16], f16 d = 0.5 at byte 208. x = d * sc[e / 16] * (q - 32).
TEST(KQuantCodec, Q6_KDequantizesAHandBuiltBlock) {
  std::vector<unsigned char> b(210, 0);
  unsigned char *ql = b.data(), *qh = b.data() + 128;
  auto* sc = reinterpret_cast<int8_t*>(b.data() + 192);
  b[209] = 0x38;
  sc[0] = 2, sc[1] = -3, sc[4] = 4, sc[10] = 7, sc[15] = -128;
  ql[0] = 0x4D, qh[0] = 0x12;    // element 0: q = 13 | 2 << 4 = 45; element 64: q = 4 | 1 << 4 = 20
  ql[16] = 0x0F, qh[16] = 0x03;  // element 16: q = 63
  ql[97] = 0x01, qh[33] = 0x08;  // element 161 (half 1, quarter 1, l 1): q = 1 | 2 << 4 = 33
  const auto x = dequantized(DType::Q6_K, b);
  EXPECT_EQ(x[0], 13.0f);      // 0.5 * 2 * 13
  EXPECT_EQ(x[1], -32.0f);     // 0.5 * 2 * -32
  EXPECT_EQ(x[16], -46.5f);    // 0.5 * -3 * 31
  EXPECT_EQ(x[64], -24.0f);    // 0.5 * 4 * -12
  EXPECT_EQ(x[161], 3.5f);     // 0.5 * 7 * 1
  EXPECT_EQ(x[255], 2048.0f);  // 0.5 * -128 * -32
  EXPECT_EQ(x[40], 0.0f);      // scale 0
}

// An all-zero super-block quantizes to zero bytes (Q6_K) or zero scales (Q4_K, Q5_K), and
// dequantizes to zeros.
TEST(KQuantCodec, ZerosStayZeros) {
  for (DType dt : {DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const std::vector<float> x(256, 0.0f);
    const auto b = quantized(dt, x);
    for (float v : dequantized(dt, b)) ASSERT_EQ(v, 0.0f) << dtype_torch_name(dt);
    if (dt == DType::Q6_K) {
      for (unsigned char c : b) ASSERT_EQ(c, 0);
    }
  }
}

// Round trip of Gaussian weights: the rms error relative to the rms of x halves with each bit
// (uniform rounding over a 32-sample block's ~4.5 sigma spread would give 4.5 / 15 / sqrt(12) =
// 0.087 at 4 bits; the fitted scales and mins do better: measured 0.071, 0.036, 0.018), and no
// element is off by more than ~1.5 steps of the coarsest block.
TEST(KQuantCodec, RoundTripErrorIsWithinTheFormatsResolution) {
  std::mt19937 rng(5);
  const auto x = random_floats(256 * 16, rng);
  struct Case {
    DType dt;
    double max_rel_rms;
  };
  for (const Case c :
       {Case{DType::Q4_K, 0.085}, Case{DType::Q5_K, 0.043}, Case{DType::Q6_K, 0.021}}) {
    const auto y = dequantized(c.dt, quantized(c.dt, x));
    double err2 = 0, x2 = 0, max_err = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      err2 += (x[i] - y[i]) * (x[i] - y[i]);
      x2 += x[i] * x[i];
      max_err = std::max(max_err, std::fabs(static_cast<double>(x[i] - y[i])));
    }
    const double rel = std::sqrt(err2 / x2);
    EXPECT_LT(rel, c.max_rel_rms) << dtype_torch_name(c.dt);
    EXPECT_GT(rel, c.max_rel_rms / 8) << dtype_torch_name(c.dt) << ": suspiciously exact";
    EXPECT_LT(max_err, 3 * c.max_rel_rms) << dtype_torch_name(c.dt);
  }
}

// Rows of a K-quant matrix are whole super-blocks: a row of 300 elements cannot be one.
TEST(KQuantCodec, RowsMustBeWholeSuperBlocks) {
  EXPECT_EQ(dtype_nbytes(DType::Q4_K, 512), 288u);
  EXPECT_EQ(dtype_nbytes(DType::Q6_K, 256), 210u);
  EXPECT_THROW(dtype_nbytes(DType::Q5_K, 300), ShapeError);
  EXPECT_THROW(ops::cast(Tensor::zeros({2, 300}, DType::F32), DType::Q4_K), ShapeError);
}

class KQuantTier : public ::testing::TestWithParam<cpu::Isa> {};
INSTANTIATE_TEST_SUITE_P(Tiers, KQuantTier, ::testing::ValuesIn(testing::vector_tiers()),
                         testing::tier_label);

bool is_kquant(DType dt) { return dt == DType::Q4_K || dt == DType::Q5_K || dt == DType::Q6_K; }

// x = (x_q * d) of a K-quant activation row: the values the integer kernels multiply.
std::vector<float> activation_values(const std::vector<unsigned char>& row, int64_t K) {
  std::vector<float> v(static_cast<size_t>(K));
  const auto* q = reinterpret_cast<const int8_t*>(row.data());
  const auto* d = reinterpret_cast<const float*>(row.data() + K);
  for (int64_t k = 0; k < K; ++k) v[k] = q[k] * d[k / 256];
  return v;
}

// Per element |d sc q| + |dmin m| (cpu::decode_kblock): the size of the two integer sums a
// K-quant kernel converts to float, against which its rounding is measured (the mins term may
// cancel most of the scaled term, so |w| alone understates it).
std::vector<float> kquant_terms(DType dt, const std::vector<unsigned char>& w) {
  const int64_t blocks = static_cast<int64_t>(w.size()) / dtype_block_bytes(dt);
  std::vector<float> t(static_cast<size_t>(blocks * 256));
  cpu::KBlockIntegers k;
  for (int64_t b = 0; b < blocks; ++b) {
    cpu::decode_kblock(dt, w.data() + b * dtype_block_bytes(dt), &k);
    for (int e = 0; e < 256; ++e)
      t[b * 256 + e] = std::fabs(k.d * k.sc[e / 16] * k.q[e]) + std::fabs(k.dmin * k.m[e / 16]);
  }
  return t;
}

// The activation format: q = round(x / d) with d = amax / 127 per 256 (the largest element maps
// to +-127), and the int16 sums per 16 are the sums of those q.
TEST(KQuantActivations, ScalesAndSumsPerSuperBlock) {
  std::mt19937 rng(8);
  const int64_t K = 512, M = 2, ldx = K + 3;
  const auto x = random_floats(M * ldx, rng);
  std::vector<unsigned char> out(M * cpu::kquant_activation_row_bytes(K));
  cpu::quantize_activations_k(x.data(), M, K, ldx, out.data());
  ASSERT_EQ(cpu::kquant_activation_row_bytes(K), 512 + 2 * 4 + 32 * 2);
  for (int64_t m = 0; m < M; ++m) {
    const unsigned char* row = out.data() + m * cpu::kquant_activation_row_bytes(K);
    const auto* q = reinterpret_cast<const int8_t*>(row);
    const auto* d = reinterpret_cast<const float*>(row + K);
    const auto* sums = reinterpret_cast<const int16_t*>(row + K + 8);
    for (int64_t b = 0; b < 2; ++b) {
      float amax = 0;
      for (int64_t k = 0; k < 256; ++k) amax = std::max(amax, std::fabs(x[m * ldx + b * 256 + k]));
      EXPECT_EQ(d[b], amax / 127.0f);
      for (int64_t k = 0; k < 256; ++k)
        ASSERT_EQ(q[b * 256 + k], static_cast<int>(std::round(x[m * ldx + b * 256 + k] / d[b])));
    }
    for (int64_t g = 0; g < K / 16; ++g) {
      int sum = 0;
      for (int64_t k = 0; k < 16; ++k) sum += q[g * 16 + k];
      ASSERT_EQ(sums[g], sum) << "group " << g;
    }
  }
}

// The reference's integer product is the exact product of the dequantized weights and the
// dequantized activations (q_x * d_x): the same sum, regrouped, summed here in double over the
// codec's floats. Then a hand value: the hand-built Q4_K block times x = 1 (q_x = 127, d_x =
// 1 / 127) is the sum of its dequantized elements.
TEST(KQuantActivations, ReferenceProductIsTheDequantizedProduct) {
  std::mt19937 rng(9);
  const int64_t N = 5, K = 768;
  for (DType dt : {DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const auto w = quantized(dt, random_floats(N * K, rng));
    const auto w_deq = dequantized(dt, w);
    const auto x = random_floats(K, rng);
    std::vector<unsigned char> xq(cpu::kquant_activation_row_bytes(K));
    const auto& rk = cpu::reference_kernels().weight(dt);
    ASSERT_EQ(rk.gemm_activation, cpu::WeightFormat::ActivationFormat::Int8KBlocks);
    rk.convert_x(x.data(), 1, K, K, xq.data());
    const auto xv = activation_values(xq, K);
    std::vector<float> y(N);
    rk.gemm(xq.data(), 1, K, K, w.data(), 0, N, y.data(), N);
    const auto scale = testing::abs_product(xv, 1, K, kquant_terms(dt, w), N, K, N);
    for (int64_t n = 0; n < N; ++n) {
      double want = 0;
      for (int64_t k = 0; k < K; ++k) want += static_cast<double>(w_deq[n * K + k]) * xv[k];
      EXPECT_NEAR(y[n], want, 1e-6 * scale[n]) << dtype_torch_name(dt) << " row " << n;
    }
  }
  std::vector<unsigned char> b(144, 0);
  put_header(b.data());
  put_nibbles(b.data() + 16);
  double sum = 0;
  for (float v : dequantized(DType::Q4_K, b)) sum += v;
  const std::vector<float> ones(256, 1.0f);
  float y = 0;
  cpu::reference_kernels().linear(ones.data(), 1, 256, 256, b.data(), DType::Q4_K, 1, nullptr, &y, 1, nullptr);
  EXPECT_NEAR(y, sum, 1e-4);
  EXPECT_NEAR(sum, 5.0 + 2.75 + 55.5 + 235.5 + 33.25 + 268.0 - 0.25 * (31 * 1 + 32 * 2 + 32 * 3 + 31 * 16 + 31 * 48 + 31 * 7 + 31 * 62), 1e-9);
}

// Each tier's K-quant integer gemm (decode: M < kLinearGemmMinRows) on x in its own activation
// rows against the reference's, over odd super-block counts (1, 3, 5) and row ranges that end in
// a partial tile of 1, 2 or 3 rows. Sums differ by f32 rounding of the integer sums only.
TEST_P(KQuantTier, IntegerGemmMatchesTheReference) {
  const cpu::Kernels& fast = *cpu::kernels_for(GetParam());
  std::mt19937 rng(13);
  for (DType dt : {DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const auto& fk = fast.weight(dt);
    ASSERT_NE(fk.gemm, nullptr);
    ASSERT_EQ(fk.gemm_rows_below, cpu::kLinearGemmMinRows);
    for (int64_t K : {256, 256 * 3, 256 * 5}) {
      const int64_t N = 43;
      const auto w = quantized(dt, random_floats(N * K, rng));
      const auto terms = kquant_terms(dt, w);
      for (int64_t M : {1, 2, 3, 7}) {
        const std::string what = std::string(cpu::weight_format(dt).name) + " K=" + std::to_string(K) +
                                 " M=" + std::to_string(M);
        const int64_t ldx = K + 3, ldy = N + 1;
        const auto x = random_floats(M * ldx, rng);
        auto converted = [&](const cpu::WeightKernels& k) {
          std::vector<unsigned char> out(M * cpu::activation_row_bytes(k.gemm_activation, K));
          k.convert_x(x.data(), M, K, ldx, out.data());
          return out;
        };
        const auto xq = converted(cpu::reference_kernels().weight(dt));
        ASSERT_EQ(xq, converted(fk)) << what;
        std::vector<float> xv;
        for (int64_t m = 0; m < M; ++m) {
          const auto row = activation_values(
              std::vector<unsigned char>(xq.begin() + m * cpu::kquant_activation_row_bytes(K),
                                         xq.begin() + (m + 1) * cpu::kquant_activation_row_bytes(K)),
              K);
          xv.insert(xv.end(), row.begin(), row.end());
        }
        const auto scale = testing::abs_product(xv, M, K, terms, N, K, ldy);
        // Row ranges whose last tile of 4 rows is cut at each length.
        for (auto [n0, n1] : {std::pair<int64_t, int64_t>{5, 42}, {0, 43}, {3, 9}, {1, 4}}) {
          std::vector<float> want(M * ldy, 7.0f), got(M * ldy, 7.0f);
          cpu::reference_kernels().weight(dt).gemm(xq.data(), M, K, K, w.data(), n0, n1, want.data(), ldy);
          fk.gemm(xq.data(), M, K, K, w.data(), n0, n1, got.data(), ldy);
          testing::expect_close(got, want, scale, 1e-6f, 1e-30f,
                                "gemm " + what + " rows " + std::to_string(n0) + ".." + std::to_string(n1));
        }
        if (HasFailure()) return;
      }
    }
  }
}

// Each K-quant, pre-quantized and bitsandbytes format on each tier: dequant_rows equals the codec
// bit for bit; gemv (the formats without integer kernels, rows [5, 42)) and the whole linear
// (bias, a pool, M across the decode / prompt switch) match the reference, which sums the same
// dequantized weights in double (prompts) or runs the same integer product (K-quant decode); the
// tolerance is relative to sum |x| |w| (K-quants: to the size of their integer sums).
TEST_P(KQuantTier, KernelsMatchTheReference) {
  const cpu::Kernels& fast = *cpu::kernels_for(GetParam());
  std::mt19937 rng(12);
  ThreadPool pool(3);
  for (DType dt : {DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q4_Z, DType::F8_B128, DType::MXFP4, DType::NF4,
                   DType::FP4}) {
    const int64_t N = 43, K = 256 * 3;
    const auto w = quantized(dt, random_floats(N * K, rng));
    const auto w_deq = dequantized(dt, w);
    testing::expect_dequant_rows_exact(fast, dt, w, K, w_deq);
    // M: decode, the driver's small-M and BLAS paths, an odd tail.
    for (int64_t M : {1, 2, 9, 40}) {
      const std::string what = std::string(cpu::weight_format(dt).name) + " M=" + std::to_string(M);
      const int64_t ldx = K + 3, ldy = N + 1;
      const auto x = random_floats(M * ldx, rng), bias = random_floats(N, rng);
      const bool integer = is_kquant(dt) && M < cpu::kLinearGemmMinRows;
      const auto scale = testing::abs_product(x, M, ldx, integer ? kquant_terms(dt, w) : w_deq, N, K, ldy);
      if (!is_kquant(dt) && M < cpu::kLinearGemmMinRows) {
        std::vector<float> want(M * ldy, 0.0f), got(M * ldy, 0.0f);
        cpu::reference_kernels().weight(dt).gemv(x.data(), M, K, ldx, w.data(), 5, 42, want.data(), ldy);
        fast.weight(dt).gemv(x.data(), M, K, ldx, w.data(), 5, 42, got.data(), ldy);
        testing::expect_close(got, want, scale, 1e-6f, 1e-30f, "gemv " + what);
      }
      testing::expect_linear_matches_reference(fast, dt, w, N, K, x, M, ldx, ldy, bias, scale, pool, what);
      if (HasFailure()) return;
    }
  }
}

// Through the op API: a K-quant embedding gathers dequantized rows, a linear is the linear of the
// dequantized weights (up to the int8 rounding of x in decode), and row views (whole rows of
// super-blocks) keep working.
TEST(KQuantOps, EmbeddingAndLinearOfKQuantTensors) {
  std::mt19937 rng(4);
  const int64_t V = 10, H = 512;
  const auto wf = random_floats(V * H, rng);
  for (DType dt : {DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    Tensor w = ops::cast(Tensor::from_values(wf, {V, H}), dt);
    ASSERT_EQ(w.dtype(), dt);
    Tensor deq = ops::cast(w, DType::F32);
    Tensor ids = Tensor::from_values(std::vector<int64_t>{3, 0, 9}, {3});
    EXPECT_EQ(testing::max_abs_diff(ops::embedding(w, ids), ops::embedding(deq, ids)), 0.0f);
    // Two rows of x: the integer kernels, x rounded to int8 per 256 (< 1 % of the largest output);
    // ten rows: the f32 product of the dequantized rows, with x and W rounded to bf16 where the
    // CPU multiplies prompts on bf16 panels (AVX512_BF16).
    Tensor x = Tensor::from_values(random_floats(2 * H, rng), {2, H});
    const Tensor y32 = ops::linear(x, deq);
    const float scale = testing::max_abs(y32);
    EXPECT_LE(testing::max_abs_diff(ops::linear(x, w), y32), 0.01f * scale) << dtype_torch_name(dt);
    EXPECT_GT(testing::max_abs_diff(ops::linear(x, w), y32), 0.0f) << dtype_torch_name(dt) << ": not the int8 path";
    EXPECT_LE(testing::max_abs_diff(ops::linear(x, w.slice(0, 2, 5)), ops::linear(x, deq.slice(0, 2, 5))),
              0.01f * scale);
    Tensor x10 = Tensor::from_values(random_floats(10 * H, rng), {10, H});
    const bool panels = cpu::kernels().weight(dt).dequant_rows_bf16 != nullptr;
    auto rounded = [&](const Tensor& t) { return panels ? ops::cast(ops::cast(t, DType::BF16), DType::F32) : t; };
    EXPECT_LE(testing::max_abs_diff(ops::linear(x10, w), ops::linear(rounded(x10), rounded(deq))), 1e-4f)
        << dtype_torch_name(dt);
  }
}

}  // namespace
}  // namespace transformers
