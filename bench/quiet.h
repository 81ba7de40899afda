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
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace transformers::bench {

struct CpuSnapshot {
  double busy_s = 0, self_s = 0, wall_s = 0;

  static CpuSnapshot now() {
    CpuSnapshot s;
    s.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    unsigned long long v[8] = {0};
    if (FILE* f = std::fopen("/proc/stat", "r")) {
      if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                      &v[6], &v[7]) != 8) {
      }
      std::fclose(f);
    }
    s.busy_s = static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / static_cast<double>(sysconf(_SC_CLK_TCK));
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    s.self_s = r.ru_utime.tv_sec + 1e-6 * r.ru_utime.tv_usec + r.ru_stime.tv_sec + 1e-6 * r.ru_stime.tv_usec;
    return s;
  }

  // Cores used by other processes between `before` and this snapshot.
  double others_since(const CpuSnapshot& before) const {
    double wall = wall_s - before.wall_s;
    if (wall <= 0) return 0;
    double o = ((busy_s - before.busy_s) - (self_s - before.self_s)) / wall;
    return o < 0 ? 0 : o;
  }
};

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
    const double limit = quiet_wait_limit_s();
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < limit) {
      CpuSnapshot a = CpuSnapshot::now();
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      if (CpuSnapshot::now().others_since(a) < 0.1) break;
    }
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
