#include "transformers/ops/cpu/elementwise_avx2.h"

namespace transformers::cpu {

const Kernels* avx2_kernels_unchecked() {
  using namespace avx2;
  static const Kernels k{"avx2", linear, dot, axpy, add, mul, scale, rms_norm_row, layer_norm_row, softmax_row,
                         silu, gelu, gelu_tanh, silu_mul, gelu_tanh_mul, to_f32, from_f32, dot_tile,
                         matmul_acc_tile, exp_shift_sum};
  return &k;
}

}  // namespace transformers::cpu
