// Helpers of the quantized-format tests (quant_kernels_test, quant_kblocks_test): the scalar
// codec on vectors, and the checks every tier's quantized kernels pass against the reference.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/kernels.h"

namespace transformers::testing {

inline std::vector<unsigned char> quantized(DType dt, const std::vector<float>& x) {
  std::vector<unsigned char> out(dtype_nbytes(dt, static_cast<int64_t>(x.size())));
  cpu::weight_format(dt).quantize(x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

inline std::vector<float> dequantized(DType dt, const std::vector<unsigned char>& b) {
  const int64_t n = static_cast<int64_t>(b.size()) / dtype_block_bytes(dt) * dtype_block_elements(dt);
  std::vector<float> out(static_cast<size_t>(n));
  cpu::weight_format(dt).dequantize(b.data(), out.data(), n);
  return out;
}

// x · Wᵀ + bias with x and the dequantized W rounded to bf16 (round to nearest even), summed in
// double: what a tier with bf16 panels (WeightKernels::dequant_rows_bf16) computes for prompts.
// y starts as `fill` (the gaps of ldy > N).
inline std::vector<float> bf16_panel_product(const std::vector<float>& x, int64_t M, int64_t K, int64_t ldx,
                                             const std::vector<float>& w_deq, int64_t N,
                                             const std::vector<float>& bias, int64_t ldy, float fill) {
  auto r = [](float f) { return bf16_to_f32(f32_to_bf16(f)); };
  std::vector<float> y(M * ldy, fill);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = bias[n];
      for (int64_t k = 0; k < K; ++k) s += double(r(x[m * ldx + k])) * r(w_deq[n * K + k]);
      y[m * ldy + n] = static_cast<float>(s);
    }
  return y;
}

// The tier's whole linear (bias, a pool) against the reference's, or from kPanelGemmMinRows rows
// on a tier with bf16 panels, against the bf16-rounded product; y starts as 7s, so the gaps of
// ldy > N must stay.
inline void expect_linear_matches_reference(const cpu::Kernels& fast, DType dt, const std::vector<unsigned char>& w,
                                            int64_t N, int64_t K, const std::vector<float>& x, int64_t M, int64_t ldx,
                                            int64_t ldy, const std::vector<float>& bias,
                                            const std::vector<float>& scale, ThreadPool& pool,
                                            const std::string& what) {
  std::vector<float> want(M * ldy, 7.0f), got(M * ldy, 7.0f);
  if (fast.weight(dt).dequant_rows_bf16 && M >= cpu::kPanelGemmMinRows)
    want = bf16_panel_product(x, M, K, ldx, dequantized(dt, w), N, bias, ldy, 7.0f);
  else
    cpu::reference_kernels().linear(x.data(), M, K, ldx, w.data(), dt, N, bias.data(), want.data(), ldy, nullptr);
  fast.linear(x.data(), M, K, ldx, w.data(), dt, N, bias.data(), got.data(), ldy, &pool);
  expect_close(got, want, scale, 1e-6f, 1e-6f, "linear " + what);
}

// Rows 7..9 through dequant_rows: the tier's equal the reference's and the codec's, bit for bit;
// its bf16 panels (where it has them) equal the codec's floats rounded to nearest even.
inline void expect_dequant_rows_exact(const cpu::Kernels& fast, DType dt, const std::vector<unsigned char>& w,
                                      int64_t K, const std::vector<float>& w_deq) {
  std::vector<float> a(3 * K), b(3 * K, -1.0f);
  cpu::reference_kernels().weight(dt).dequant_rows(w.data(), K, 7, 3, a.data());
  fast.weight(dt).dequant_rows(w.data(), K, 7, 3, b.data());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << dtype_torch_name(dt);
  EXPECT_EQ(0, std::memcmp(a.data(), w_deq.data() + 7 * K, a.size() * sizeof(float))) << dtype_torch_name(dt);
  if (!fast.weight(dt).dequant_rows_bf16) return;
  std::vector<uint16_t> p(3 * K, 0xffff);
  fast.weight(dt).dequant_rows_bf16(w.data(), K, 7, 3, p.data());
  for (int64_t i = 0; i < 3 * K; ++i)
    ASSERT_EQ(p[i], f32_to_bf16(w_deq[7 * K + i])) << dtype_torch_name(dt) << " bf16 panel element " << i;
}

}  // namespace transformers::testing
