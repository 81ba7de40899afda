// Helpers shared by the tests of the quantized weight formats (GGML's and bitsandbytes' blocks).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "transformers/ops/cpu/kernels.h"

namespace transformers::testing {

// Every vector tier this CPU runs (AVX2, AVX-512), each checked against the scalar reference.
inline std::vector<cpu::Isa> vector_tiers() {
  std::vector<cpu::Isa> tiers;
  for (cpu::Isa isa : cpu::supported_isas())
    if (isa != cpu::Isa::Scalar) tiers.push_back(isa);
  return tiers;
}

// x quantized to blocks of `dt` by its scalar codec.
inline std::vector<unsigned char> quantized(DType dt, const std::vector<float>& x) {
  std::vector<unsigned char> out(dtype_nbytes(dt, static_cast<int64_t>(x.size())));
  cpu::weight_format(dt).quantize(x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

// sum_k |x[m, k] w[n, k]| at [m * ldy + n]: the scale of a product's rounding error.
inline std::vector<float> abs_product_scale(const std::vector<float>& x, int64_t M, int64_t ldx,
                                            const std::vector<float>& w, int64_t N, int64_t K,
                                            int64_t ldy) {
  std::vector<float> scale(static_cast<size_t>(M * ldy), 0.0f);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        scale[m * ldy + n] += std::fabs(x[m * ldx + k] * w[n * K + k]);
  return scale;
}

}  // namespace transformers::testing
