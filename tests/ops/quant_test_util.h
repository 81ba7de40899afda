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

// The tier's whole linear (bias, a pool) against the reference's; y starts as 7s, so the gaps of
// ldy > N must stay.
inline void expect_linear_matches_reference(const cpu::Kernels& fast, DType dt, const std::vector<unsigned char>& w,
                                            int64_t N, int64_t K, const std::vector<float>& x, int64_t M, int64_t ldx,
                                            int64_t ldy, const std::vector<float>& bias,
                                            const std::vector<float>& scale, ThreadPool& pool,
                                            const std::string& what) {
  std::vector<float> want(M * ldy, 7.0f), got(M * ldy, 7.0f);
  cpu::reference_kernels().linear(x.data(), M, K, ldx, w.data(), dt, N, bias.data(), want.data(), ldy, nullptr);
  fast.linear(x.data(), M, K, ldx, w.data(), dt, N, bias.data(), got.data(), ldy, &pool);
  expect_close(got, want, scale, 1e-6f, 1e-6f, "linear " + what);
}

// Rows 7..9 through dequant_rows: the tier's equal the reference's and the codec's, bit for bit.
inline void expect_dequant_rows_exact(const cpu::Kernels& fast, DType dt, const std::vector<unsigned char>& w,
                                      int64_t K, const std::vector<float>& w_deq) {
  std::vector<float> a(3 * K), b(3 * K, -1.0f);
  cpu::reference_kernels().weight(dt).dequant_rows(w.data(), K, 7, 3, a.data());
  fast.weight(dt).dequant_rows(w.data(), K, 7, 3, b.data());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << dtype_torch_name(dt);
  EXPECT_EQ(0, std::memcmp(a.data(), w_deq.data() + 7 * K, a.size() * sizeof(float))) << dtype_torch_name(dt);
}

}  // namespace transformers::testing
