// A persistent thread pool. Kernels split their work into tasks and call run(); the calling
// thread takes part, so a pool of N threads has N-1 workers.
//
// Tasks are claimed from one atomic word that holds (job generation, next task), so the caller
// never waits for a worker that has not started: if the other core is busy (a compiler, another
// process) the caller simply runs every task itself and returns, and a late worker finds the job
// gone. The caller waits only for tasks a worker has actually claimed. Workers spin briefly
// before they sleep, because decode-time ops are microseconds long and a futex wake costs as
// much. Nested calls (a task that calls run()) execute inline: there is no oversubscription.
// Calls from several outside threads at once (a serving engine thread and a request thread both
// running a model) take turns: the job word describes one job at a time.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace transformers {

// More threads than this is a configuration mistake, not a machine (TRANSFORMERS_NUM_THREADS,
// --threads).
inline constexpr int kMaxThreads = 1024;

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool; its size comes from TRANSFORMERS_NUM_THREADS or the core count.
  static ThreadPool& global();

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(task) for every task in [0, n_tasks), spread over all threads; returns when all
  // are done. Exceptions thrown by fn are rethrown here (the first one).
  template <typename F>
  void run(int64_t n_tasks, F&& fn) {
    if (n_tasks <= 0) return;
    using Fn = std::remove_reference_t<F>;
    auto trampoline = [](void* ctx, int64_t task) { (*static_cast<Fn*>(ctx))(task); };
    dispatch(n_tasks, trampoline, const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Splits [0, n) into chunks of at least `grain` items, about 4 per thread for balance, and
  // calls fn(begin, end) for each.
  template <typename F>
  void parallel_for(int64_t n, int64_t grain, F&& fn) {
    if (n <= 0) return;
    int64_t max_chunks = static_cast<int64_t>(size()) * 4;
    int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(max_chunks, n / std::max<int64_t>(grain, 1)));
    int64_t step = (n + chunks - 1) / chunks;
    chunks = (n + step - 1) / step;
    run(chunks, [&](int64_t c) { fn(c * step, std::min(n, (c + 1) * step)); });
  }

 private:
  using TaskFn = void (*)(void*, int64_t);
  struct Job {
    TaskFn fn = nullptr;
    void* ctx = nullptr;
    int64_t n_tasks = 0;
  };
  void dispatch(int64_t n_tasks, TaskFn fn, void* ctx);
  void worker_loop();
  // Claims and runs tasks of job `gen` until none are left; returns when the job moved on.
  void work_on(uint32_t gen);
  void run_task(const Job& job, int64_t task);
  void wake_workers();

  std::vector<std::thread> workers_;
  // Double-buffered job descriptors: jobs_[gen & 1]. A worker reads a descriptor only after it
  // has claimed a task of that generation, and the caller cannot publish gen + 2 before every
  // claimed task of gen has completed, so a descriptor is never rewritten while in use.
  Job jobs_[2];
  std::atomic<uint64_t> state_{0};     // generation << 32 | next task
  std::atomic<uint32_t> wake_{0};      // bumped per job; workers futex-wait on it
  std::atomic<int> sleepers_{0};       // workers inside futex_wait (skip the wake syscall when 0)
  std::atomic<int64_t> completed_{0};  // tasks of the current job finished
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::mutex error_mutex_;
  std::mutex dispatch_mutex_;  // one outside caller's job at a time
  std::exception_ptr error_;
};

}  // namespace transformers
