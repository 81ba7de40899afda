#include "transformers/chat/budget.h"

#include <algorithm>

namespace transformers::jinja {

thread_local Budget* Budget::active_ = nullptr;

namespace {
// Values at least this big are watched (weak reference) so that freeing them gives the memory
// budget back; there are at most max_work * kBytesPerWork / kWatchedBytes of them.
constexpr size_t kWatchedBytes = 64 << 10;
constexpr size_t kFirstSweepBytes = 4 << 20;
// A string's heap block and shared_ptr control block beyond its characters.
constexpr size_t kStringOverhead = 64;
}  // namespace

size_t storage_bytes(const Value& v) {
  switch (v.type()) {
    case Value::Type::String: return v.as_str().size() + kStringOverhead;
    case Value::Type::List: return v.as_list().items.size() * sizeof(Value) + sizeof(ListObj);
    case Value::Type::Dict: return v.as_dict().items.size() * 2 * sizeof(Value) + sizeof(DictObj);
    default: return 0;
  }
}

size_t iteration_bytes(const Value& v) {
  switch (v.type()) {
    case Value::Type::String: return v.as_str().size() * (sizeof(Value) + kStringOverhead);
    case Value::Type::List: return v.as_list().items.size() * sizeof(Value);
    case Value::Type::Dict: return v.as_dict().items.size() * sizeof(Value);
    default: return 0;
  }
}

int64_t visit_work(const Value& v) {
  switch (v.type()) {
    case Value::Type::String: return static_cast<int64_t>(v.as_str().size() / kBytesPerWork);
    case Value::Type::List: return static_cast<int64_t>(v.as_list().items.size());
    case Value::Type::Dict: return static_cast<int64_t>(v.as_dict().items.size());
    default: return 0;
  }
}

void Budget::work_exceeded() const {
  raise("SecurityError", "work budget exceeded: the template did more than " + std::to_string(limits_.max_work) +
                             " counted operations (RenderLimits::max_work)");
}

void Budget::check_string(size_t bytes) const {
  if (bytes > limits_.max_output_bytes)
    raise("SecurityError", "output limit exceeded: the template produced more than " +
                               std::to_string(limits_.max_output_bytes) + " bytes");
}

void Budget::built(const Value& v) {
  size_t bytes = storage_bytes(v);
  if (bytes == 0) return;
  work(static_cast<int64_t>(bytes / kBytesPerWork));
  if (bytes >= kWatchedBytes) tracked_.push_back({v.weak_ref(), bytes});
  add_live(bytes);
}

void Budget::reserve(size_t bytes) {
  add_live(bytes);  // first: a copy too big to hold is a memory failure, whatever it would cost
  work(static_cast<int64_t>(bytes / kBytesPerWork));
}

void Budget::add_live(size_t bytes) {
  live_bytes_ += bytes;
  // Forget the watched values freed since the last look whenever the count has doubled (and
  // before failing), so the cost of looking stays proportional to what was built.
  if (live_bytes_ > next_sweep_ || live_bytes_ > limits_.max_memory_bytes) {
    auto freed = std::remove_if(tracked_.begin(), tracked_.end(), [&](const Tracked& t) {
      if (!t.object.expired()) return false;
      live_bytes_ -= t.bytes;
      return true;
    });
    tracked_.erase(freed, tracked_.end());
    next_sweep_ = std::max(2 * live_bytes_, kFirstSweepBytes);
  }
  if (live_bytes_ > limits_.max_memory_bytes)
    raise("SecurityError", "memory budget exceeded: the template holds more than " +
                               std::to_string(limits_.max_memory_bytes) +
                               " bytes of strings and lists (RenderLimits::max_memory_bytes)");
  peak_bytes_ = std::max(peak_bytes_, live_bytes_);
}

}  // namespace transformers::jinja
