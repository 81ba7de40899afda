// How many cores other processes used over an interval: /proc/stat's busy time of the whole
// machine minus this process's own CPU time (getrusage), as ../shared/tools/peer-bench/
// llama_bench.mjs measures it. Shared by the Google Benchmark guard (quiet.h) and
// `transformers bench`, which redo or mark figures taken while others were busy.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace transformers::bench {

struct CpuSnapshot {
  double busy_s = 0, self_s = 0, wall_s = 0;

  static CpuSnapshot now() {
    CpuSnapshot s;
    s.wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    unsigned long long v[8] = {0};
    if (FILE* f = std::fopen("/proc/stat", "r")) {
      if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                      &v[4], &v[5], &v[6], &v[7]) != 8) {
      }
      std::fclose(f);
    }
    // user, nice, system, irq, softirq, steal: busy; idle and iowait are not.
    s.busy_s = static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
               static_cast<double>(sysconf(_SC_CLK_TCK));
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    s.self_s = r.ru_utime.tv_sec + 1e-6 * r.ru_utime.tv_usec + r.ru_stime.tv_sec +
               1e-6 * r.ru_stime.tv_usec;
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

// Waits up to `limit_s` for a quarter second in which other processes use less than
// `max_others` cores; returns whether one came.
inline bool wait_for_quiet(double limit_s, double max_others) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
         limit_s) {
    CpuSnapshot a = CpuSnapshot::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    if (CpuSnapshot::now().others_since(a) < max_others) return true;
  }
  return false;
}

}  // namespace transformers::bench
