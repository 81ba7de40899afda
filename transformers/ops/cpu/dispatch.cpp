#include "transformers/ops/cpu/kernels.h"

namespace transformers::cpu {

namespace avx2 {
const Kernels& tier_kernels();
}
namespace avx512 {
const Kernels& tier_kernels();
}

const Kernels* kernels_for(Isa isa) {
  if (!cpu_supports(isa)) return nullptr;
  switch (isa) {
    case Isa::Scalar: return &reference_kernels();
    case Isa::AVX2: return &avx2::tier_kernels();
    case Isa::AVX512: return &avx512::tier_kernels();
  }
  return nullptr;
}

const Kernels& kernels() {
  static const Kernels* chosen = kernels_for(selected_isa());
  return *chosen;
}

}  // namespace transformers::cpu
