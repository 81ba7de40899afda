// The machine's own limits, measured by `transformers bench` beside its figures: memory read
// bandwidth (a STREAM-like multi-threaded read of a buffer far larger than the last-level cache)
// and the FP32 FMA peak (independent FMA chains in registers), on the widest vector unit the CPU
// has, chosen at run time (AVX-512F, else AVX2+FMA, else plain C++).
#pragma once

#include <string>

namespace transformers::cli {

struct MachineLimits {
  std::string isa;             // "avx512", "avx2" or "scalar": the tier the loops ran on
  double read_gb_per_s = 0;    // 1e9 bytes per second
  double fma_gflop_per_s = 0;  // FP32, 2 flops per lane per FMA
};

// Best of a few short runs on `threads` threads of the global pool (about a second in all).
MachineLimits measure_machine_limits(int threads);

}  // namespace transformers::cli
