// The work and memory budgets of one render (RenderLimits::max_work, max_memory_bytes). Every
// hostile template (exponential macro recursion, quadratic string growth, gigabytes held in
// variables) ends with a SecurityError that names the budget, after a bounded number of counted
// operations, independent of how fast the machine is. Internal to chat/.
//
// Value-level code (repr, json, comparisons, iteration) has no Context; it charges the budget of
// the render running on this thread through charge_work / charge_memory (no-ops outside a render).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "transformers/chat/template.h"

namespace transformers::jinja {

// Work units: one per statement, expression, loop iteration or list item visited, kCallWork per
// call, and one per kBytesPerWork bytes that an operation builds or scans.
constexpr int64_t kCallWork = 32;  // a call allocates a scope and captures its output
constexpr size_t kBytesPerWork = 32;

class Budget {
 public:
  explicit Budget(const RenderLimits& limits) : limits_(limits) {}

  void work(int64_t units) {
    work_ += units;
    if (work_ > limits_.max_work) work_exceeded();
  }
  void scan(size_t bytes) { work(static_cast<int64_t>(bytes / kBytesPerWork)); }
  // A value this render has just built (nobody else holds it): its bytes count as work (they
  // were written) and as live memory until it is freed.
  void built(const Value& v);
  // Memory held for a while by something that is not a render result (a loop's copy of its
  // items): reserve when allocating, release when freed.
  void reserve(size_t bytes);
  void release(size_t bytes) { live_bytes_ -= std::min(bytes, live_bytes_); }
  // A string the render is building has reached `bytes` (repr, json): the per-string limit.
  void check_string(size_t bytes) const;

  int64_t work_used() const { return work_; }
  size_t peak_memory() const { return peak_bytes_; }

  // The budget of the render running on this thread (null outside a render).
  static Budget* active() { return active_; }
  class Activation {
   public:
    explicit Activation(Budget& b) : saved_(active_) { active_ = &b; }
    ~Activation() { active_ = saved_; }
    Activation(const Activation&) = delete;
    Activation& operator=(const Activation&) = delete;

   private:
    Budget* saved_;
  };

 private:
  [[noreturn]] void work_exceeded() const;
  void add_live(size_t bytes);

  const RenderLimits& limits_;
  int64_t work_ = 0;
  // Live bytes: every value built counts until the big ones (tracked_) are found freed. Small
  // ones stay counted, which over-approximates; the work budget bounds how many exist anyway.
  size_t live_bytes_ = 0;
  size_t peak_bytes_ = 0;
  size_t next_sweep_ = 0;
  struct Tracked {
    std::weak_ptr<const void> object;
    size_t bytes;
  };
  std::vector<Tracked> tracked_;
  static thread_local Budget* active_;
};

// Charges the active render's budget, if any.
inline void charge_work(int64_t units) {
  if (Budget* b = Budget::active()) b->work(units);
}
inline void charge_scan(size_t bytes) {
  if (Budget* b = Budget::active()) b->scan(bytes);
}
inline void check_built_string(size_t bytes) {
  if (Budget* b = Budget::active()) b->check_string(bytes);
}

// Approximate heap bytes of a value's own storage (not of the values it holds).
size_t storage_bytes(const Value& v);
// Approximate bytes of iterating a value (the copy of its items a for loop holds).
size_t iteration_bytes(const Value& v);
// Work units of visiting a value once (its bytes for a string, its items for a container).
int64_t visit_work(const Value& v);

}  // namespace transformers::jinja
