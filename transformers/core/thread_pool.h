// A persistent thread pool. Kernels split their work into tasks and call run(); the calling
// thread takes part, so a pool of N threads has N-1 workers. Workers spin briefly before they
// sleep, because decode-time ops are a few microseconds long and a futex wake costs as much.
// Nested calls (a task that calls run()) execute inline: there is never oversubscription.
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace transformers {

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
  void dispatch(int64_t n_tasks, TaskFn fn, void* ctx);
  void worker_loop(int index);
  void work_on_current_job();

  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_task_{0};
  std::atomic<int> busy_workers_{0};
  std::atomic<bool> stop_{false};
  int64_t n_tasks_ = 0;
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
};

}  // namespace transformers
