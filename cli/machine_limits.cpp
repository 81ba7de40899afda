#include "cli/machine_limits.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "cli/machine_limits_kernels.h"
#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/isa.h"

namespace transformers::cli {
namespace {

// 256 MiB: 8x the 32 MiB L3 of a Zen 4/5 CCD and above any desktop or server L3 slice a thread
// reads from (in a VM, getconf's cache size is often made up, so it is not asked).
constexpr size_t kReadBytes = size_t{256} << 20;
constexpr int kRuns = 5;
constexpr int64_t kFmaIters = 4'000'000;

// The kernels' own tier detection (cpuid and the OS's register state, ops/cpu/isa.h).
LimitLoops best_loops() {
  if (cpu::cpu_supports(cpu::Isa::AVX512)) return limit_loops_avx512();
  if (cpu::cpu_supports(cpu::Isa::AVX2)) return limit_loops_avx2();
  return limit_loops_scalar();
}

template <typename F>
double best_seconds(F&& run) {
  double best = 1e30;
  for (int r = 0; r < kRuns; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

LimitLoops limit_loops_scalar() { return limit_loops<1>("scalar"); }

MachineLimits measure_machine_limits(int threads) {
  const LimitLoops loops = best_loops();
  ThreadPool& pool = ThreadPool::global();
  threads = std::max(1, std::min(threads, pool.size()));
  MachineLimits m;
  m.isa = loops.isa;

  // Each thread reads its own contiguous slice (and first touches it, so its pages are mapped).
  const size_t n = kReadBytes / sizeof(float), slice = n / static_cast<size_t>(threads) / 64 * 64;
  std::unique_ptr<float[]> buffer(new float[n]);
  pool.run(threads, [&](int64_t t) { std::fill_n(buffer.get() + t * slice, slice, 1.f); });
  std::vector<float> sink(static_cast<size_t>(threads));
  const double read_s = best_seconds([&] {
    pool.run(threads,
             [&](int64_t t) { sink[t] += loops.read_sum(buffer.get() + t * slice, slice); });
  });
  m.read_gb_per_s = static_cast<double>(slice * threads * sizeof(float)) / read_s / 1e9;

  const double fma_s = best_seconds([&] {
    pool.run(threads, [&](int64_t t) { sink[t] += loops.fma_chains(kFmaIters, 1.f + sink[t]); });
  });
  m.fma_gflop_per_s = 2.0 * kFmaIters * kFmaChains * loops.lanes * threads / fma_s / 1e9;
  volatile float observed = sink[0];  // the sums are used, so the loops are not optimised away
  (void)observed;
  return m;
}

}  // namespace transformers::cli
