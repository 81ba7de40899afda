// machine_limits_kernels.h on 512-bit vectors (compiled with -mavx512f -ffp-contract=fast; chosen
// only when cpuid says the CPU has AVX-512F).
#include "cli/machine_limits_kernels.h"

namespace transformers::cli {
LimitLoops limit_loops_avx512() { return limit_loops<16>("avx512"); }
}  // namespace transformers::cli
