#include <cstdlib>

#include "transformers/ops/cpu/kernels.h"

namespace transformers::cpu {

const Kernels* avx2_kernels_unchecked();

const Kernels* avx2_kernels() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                                __builtin_cpu_supports("f16c");
  return supported ? avx2_kernels_unchecked() : nullptr;
}

const Kernels& kernels() {
  static const Kernels* chosen = [] {
    const char* force = std::getenv("TRANSFORMERS_FORCE_SCALAR");
    if (force && force[0] == '1') return &reference_kernels();
    const Kernels* fast = avx2_kernels();
    return fast ? fast : &reference_kernels();
  }();
  return *chosen;
}

}  // namespace transformers::cpu
