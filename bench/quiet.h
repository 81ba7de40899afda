// Interference guard for benchmarks on a shared 2-core machine (the idea of
// ../shared/tools/hwbench/quiet.h): before measuring, wait a bounded time for a moment in which
// other processes use almost no CPU; after measuring, report how many cores they used meanwhile
// as the counter "others" (a figure taken with others > ~0.1 is disturbed; rerun it).
// TCPP_BENCH_QUIET_WAIT=seconds bounds the wait (default 2; 0 disables it).
// When no quiet moment comes (others compiling, fuzzing), wall-clock rates mostly measure the
// scheduler; finish() therefore also returns the CPU seconds this process used, from which a
// benchmark reports "@cpu" rates: work / (process CPU time / threads). Uncontended, the two
// agree (idle pool threads spin, so their waiting counts); contended, "@cpu" is the better guess.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>

#include "bench/cpu_snapshot.h"

namespace transformers::bench {

inline double quiet_wait_limit_s() {
  static const double limit = [] {
    const char* env = std::getenv("TCPP_BENCH_QUIET_WAIT");
    return env ? std::atof(env) : 2.0;
  }();
  return limit;
}

// Construct before the timing loop, call finish() after it.
class QuietGuard {
 public:
  explicit QuietGuard(benchmark::State& state) : state_(state) {
    wait_for_quiet(quiet_wait_limit_s(), 0.1);
    before_ = CpuSnapshot::now();
  }
  // Sets the "others" counter; returns the CPU seconds this process used since construction.
  double finish() {
    CpuSnapshot after = CpuSnapshot::now();
    state_.counters["others"] = benchmark::Counter(after.others_since(before_));
    return after.self_s - before_.self_s;
  }

 private:
  benchmark::State& state_;
  CpuSnapshot before_;
};

}  // namespace transformers::bench
