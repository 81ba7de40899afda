// machine_limits_kernels.h on 256-bit vectors (compiled with -mavx2 -mfma -ffp-contract=fast).
#include "cli/machine_limits_kernels.h"

namespace transformers::cli {
LimitLoops limit_loops_avx2() { return limit_loops<8>("avx2"); }
}  // namespace transformers::cli
