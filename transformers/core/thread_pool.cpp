#include "transformers/core/thread_pool.h"

#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>

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
  if (const char* env = std::getenv("TRANSFORMERS_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

std::mutex g_error_mutex;
}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  for (int i = 1; i < std::max(1, n_threads); ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool(default_thread_count());
  return pool;
}

void ThreadPool::work_on_current_job() {
  bool was_inside = t_inside_pool_task;
  t_inside_pool_task = true;
  for (;;) {
    int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks_) break;
    if (failed_.load(std::memory_order_relaxed)) continue;
    try {
      fn_(ctx_, task);
    } catch (...) {
      std::lock_guard<std::mutex> lock(g_error_mutex);
      if (!failed_.exchange(true)) error_ = std::current_exception();
    }
  }
  t_inside_pool_task = was_inside;
}

void ThreadPool::dispatch(int64_t n_tasks, TaskFn fn, void* ctx) {
  if (workers_.empty() || n_tasks == 1 || t_inside_pool_task) {
    bool was_inside = t_inside_pool_task;
    t_inside_pool_task = true;
    struct Restore { bool v; ~Restore() { t_inside_pool_task = v; } } restore{was_inside};
    for (int64_t t = 0; t < n_tasks; ++t) fn(ctx, t);
    return;
  }
  n_tasks_ = n_tasks;
  fn_ = fn;
  ctx_ = ctx;
  failed_.store(false);
  error_ = nullptr;
  next_task_.store(0, std::memory_order_relaxed);
  busy_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  work_on_current_job();
  while (busy_workers_.load(std::memory_order_acquire) != 0) cpu_relax();
  if (failed_.load()) std::rethrow_exception(error_);
}

void ThreadPool::worker_loop(int) {
  uint64_t seen = 0;
  for (;;) {
    // Spin a little (a new op usually follows within microseconds), then sleep on a futex.
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < 4000; ++spin) {
      cpu_relax();
      gen = generation_.load(std::memory_order_acquire);
    }
    while (gen == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load()) return;
    work_on_current_job();
    busy_workers_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace transformers
