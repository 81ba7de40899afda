#include "transformers/core/thread_pool.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

#include "transformers/core/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace transformers {

namespace {
thread_local bool t_inside_pool_task = false;

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

int default_thread_count() {
  if (const char* env = std::getenv("TRANSFORMERS_NUM_THREADS"); env && *env) {
    // A typo must not silently mean "all cores": the value is checked whole.
    int n = 0;
    const char* end = env + std::strlen(env);
    auto [p, ec] = std::from_chars(env, end, n);
    TCPP_CHECK(ec == std::errc() && p == end && n >= 1 && n <= kMaxThreads, ConfigError,
               "TRANSFORMERS_NUM_THREADS must be an integer from 1 to ", kMaxThreads, ", got '", env, "'");
    return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

constexpr uint64_t kTaskMask = 0xffffffffu;

// Raw futex calls: libstdc++ 12's std::atomic::wait/notify can lose a wake-up (seen here as a
// worker asleep forever at exit), so the pool sleeps on the futex itself.
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake_all(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}
}  // namespace

// The bump of wake_ and the read of sleepers_ (here), and the increment of sleepers_ and the
// re-read of wake_ (in worker_loop), are sequentially consistent: either the worker sees the new
// value and does not sleep, or this sees the sleeper and wakes it.
void ThreadPool::wake_workers() {
  wake_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(&wake_);
}

ThreadPool::ThreadPool(int n_threads) {
  for (int i = 1; i < std::max(1, n_threads); ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  wake_workers();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool(default_thread_count());
  return pool;
}

void ThreadPool::run_task(const Job& job, int64_t task) {
  if (!failed_.load(std::memory_order_relaxed)) {
    bool was_inside = t_inside_pool_task;
    t_inside_pool_task = true;
    try {
      job.fn(job.ctx, task);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!failed_.exchange(true)) error_ = std::current_exception();
    }
    t_inside_pool_task = was_inside;
  }
  completed_.fetch_add(1, std::memory_order_acq_rel);
}

void ThreadPool::work_on(uint32_t gen) {
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    if (static_cast<uint32_t>(s >> 32) != gen) return;
    const Job& job = jobs_[gen & 1];
    const int64_t task = static_cast<int64_t>(s & kTaskMask);
    if (task >= job.n_tasks) return;
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) continue;
    run_task(job, task);
  }
}

void ThreadPool::dispatch(int64_t n_tasks, TaskFn fn, void* ctx) {
  if (workers_.empty() || n_tasks == 1 || t_inside_pool_task) {
    bool was_inside = t_inside_pool_task;
    t_inside_pool_task = true;
    struct Restore { bool v; ~Restore() { t_inside_pool_task = v; } } restore{was_inside};
    for (int64_t t = 0; t < n_tasks; ++t) fn(ctx, t);
    return;
  }
  std::lock_guard<std::mutex> turn(dispatch_mutex_);
  const uint32_t gen = static_cast<uint32_t>(state_.load(std::memory_order_relaxed) >> 32) + 1;
  jobs_[gen & 1] = Job{fn, ctx, n_tasks};
  completed_.store(0, std::memory_order_relaxed);
  failed_.store(false, std::memory_order_relaxed);
  error_ = nullptr;
  state_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
  wake_workers();
  work_on(gen);
  while (completed_.load(std::memory_order_acquire) < n_tasks) cpu_relax();
  if (failed_.load()) std::rethrow_exception(error_);
}

void ThreadPool::worker_loop() {
  // Start from 0, not from the current value: a thread that starts late must still see every
  // bump made since the pool was built (including the destructor's).
  uint32_t seen = 0;
  for (;;) {
    uint32_t w = wake_.load(std::memory_order_acquire);
    for (int spin = 0; w == seen && spin < 4000; ++spin) {
      cpu_relax();
      w = wake_.load(std::memory_order_acquire);
    }
    while (w == seen) {
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      if (wake_.load(std::memory_order_seq_cst) == seen) futex_wait(&wake_, seen);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
      w = wake_.load(std::memory_order_acquire);
    }
    seen = w;
    if (stop_.load()) return;
    work_on(static_cast<uint32_t>(state_.load(std::memory_order_acquire) >> 32));
  }
}

}  // namespace transformers
