#include <atomic>
#include <numeric>

#include "common/test_util.h"
#include "transformers/core/thread_pool.h"

namespace transformers {
namespace {

TEST(ThreadPool, EveryTaskRunsExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7, 100, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      pool.run(n, [&](int64_t t) { hits[t].fetch_add(1); });
      for (int64_t t = 0; t < n; ++t) ASSERT_EQ(hits[t].load(), 1) << "threads " << threads << " task " << t;
    }
  }
}

TEST(ThreadPool, ParallelForCoversTheRange) {
  ThreadPool pool(3);
  std::vector<int> v(10007, 0);
  pool.parallel_for(static_cast<int64_t>(v.size()), 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) v[i] += 1;
  });
  EXPECT_EQ(std::accumulate(v.begin(), v.end(), 0), 10007);
}

TEST(ThreadPool, ExceptionsPropagateAndThePoolStaysUsable) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.run(10, [](int64_t t) { if (t == 5) throw ValueError("task 5"); }), ValueError);
  std::atomic<int> n{0};
  pool.run(10, [&](int64_t) { n++; });
  EXPECT_EQ(n.load(), 10);
}

TEST(ThreadPool, NestedRunExecutesInline) {
  ThreadPool pool(2);
  std::atomic<int> n{0};
  pool.run(4, [&](int64_t) { pool.run(3, [&](int64_t) { n++; }); });
  EXPECT_EQ(n.load(), 12);
}

// Pools built and destroyed at once, before their workers even start, must not hang at exit
// (a worker that starts late has to see the stop request).
TEST(ThreadPool, ImmediateDestructionDoesNotHang) {
  for (int i = 0; i < 200; ++i) {
    ThreadPool pool(2);
    if (i % 2) pool.run(2, [](int64_t) {});
  }
}

}  // namespace
}  // namespace transformers
