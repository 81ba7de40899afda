#include "transformers/cache/cache.h"

#include "transformers/ops/ops.h"

namespace transformers {

namespace {
// Slots [begin, end) of a [B, Hkv, capacity, D] block: a view to copy into.
Tensor slots(const Tensor& block, int64_t begin, int64_t end) { return block.slice(2, begin, end); }

void copy_into(Tensor dst, const Tensor& src) { ops::copy_(dst, src); }
}  // namespace

void DynamicLayer::append(const Tensor& k_new, const Tensor& v_new) {
  TCPP_CHECK(k_new.dim() == 4 && k_new.shape() == v_new.shape() && k_new.dtype() == DType::F32, ShapeError,
             "cache update: keys ", k_new.describe(), " and values ", v_new.describe(), " must be f32 [B, Hkv, L, D]");
  const int64_t B = k_new.size(0), H = k_new.size(1), L = k_new.size(2), D = k_new.size(3);
  if (keys_.defined())
    TCPP_CHECK(keys_.size(0) == B && keys_.size(1) == H && keys_.size(3) == D, ShapeError, "cache update: ",
               k_new.describe(), " does not match the cached ", keys_.describe());
  const int64_t need = length_ + L;
  if (!keys_.defined() || keys_.size(2) < need) {
    if (fixed_)
      TCPP_CHECK(!keys_.defined() && need <= preallocate_, ValueError, "static cache: ", need,
                 " tokens do not fit in max_cache_len=", preallocate_,
                 " (raise max_cache_len in the generation config, or use the dynamic cache)");
    int64_t cap = std::max<int64_t>(need, keys_.defined() ? keys_.size(2) * 2 : preallocate_);
    if (!fixed_) cap = std::max<int64_t>(cap, 16);
    Tensor nk = Tensor::empty({B, H, cap, D}, DType::F32), nv = Tensor::empty({B, H, cap, D}, DType::F32);
    if (length_ > 0) {
      copy_into(slots(nk, 0, length_), slots(keys_, 0, length_));
      copy_into(slots(nv, 0, length_), slots(values_, 0, length_));
    }
    keys_ = nk;
    values_ = nv;
  }
  copy_into(slots(keys_, length_, need), k_new);
  copy_into(slots(values_, length_, need), v_new);
  length_ = need;
}

KVView DynamicLayer::update(const Tensor& k_new, const Tensor& v_new) {
  append(k_new, v_new);
  return {keys_.slice(2, 0, length_), values_.slice(2, 0, length_), first_position_};
}

void DynamicLayer::reorder(std::span<const int64_t> rows) {
  if (!keys_.defined()) return;
  const int64_t B = keys_.size(0);
  TCPP_CHECK(static_cast<int64_t>(rows.size()) == B, ShapeError, "reorder_cache: ", rows.size(),
             " row indices for a cache of batch ", B);
  for (int64_t r : rows) TCPP_CHECK(r >= 0 && r < B, ValueError, "reorder_cache: row ", r, " out of range [0, ", B, ")");
  // Copy the filled slots of the chosen rows into fresh storage (rows may repeat), keeping the
  // capacity so a static layer stays preallocated.
  for (Tensor* t : {&keys_, &values_}) {
    Tensor fresh = Tensor::empty(t->shape(), DType::F32);
    for (int64_t b = 0; b < B; ++b)
      if (length_ > 0) copy_into(slots(fresh, 0, length_).select(0, b), slots(*t, 0, length_).select(0, rows[b]));
    *t = fresh;
  }
}

int64_t SlidingWindowLayer::checked_window(int64_t window) {
  TCPP_CHECK(window >= 1, ValueError, "cache: sliding_window must be >= 1, got ", window);
  return window;
}

KVView SlidingWindowLayer::update(const Tensor& k_new, const Tensor& v_new) {
  // Drop what no future query can see before appending: the next query (and every later one)
  // sees at most window-1 earlier tokens. The current step still attends over all it was given.
  const int64_t keep = window_ - 1;
  if (length_ > keep) {
    const int64_t drop = length_ - keep;
    // The kept slots shift down in place; ops::copy_ handles the overlap as memmove would.
    for (Tensor* t : {&keys_, &values_}) copy_into(slots(*t, 0, keep), slots(*t, drop, length_));
    length_ = keep;
    first_position_ += drop;
  }
  return DynamicLayer::update(k_new, v_new);
}

Cache::Cache(const std::vector<std::optional<int64_t>>& layer_windows) {
  for (const auto& w : layer_windows) {
    if (w) layers_.push_back(std::make_unique<SlidingWindowLayer>(*w));
    else layers_.push_back(std::make_unique<DynamicLayer>());
  }
}

std::unique_ptr<Cache> Cache::make_static(const std::vector<std::optional<int64_t>>& layer_windows,
                                          int64_t max_cache_len) {
  TCPP_CHECK(max_cache_len > 0, ValueError, "static cache: max_cache_len must be > 0, got ", max_cache_len);
  std::unique_ptr<Cache> c(new Cache());
  for (const auto& w : layer_windows) {
    if (w) c->layers_.push_back(std::make_unique<StaticSlidingWindowLayer>(*w, max_cache_len));
    else c->layers_.push_back(std::make_unique<StaticLayer>(max_cache_len));
  }
  c->max_cache_len_ = max_cache_len;
  return c;
}

std::vector<std::optional<int64_t>> Cache::layer_windows() const {
  std::vector<std::optional<int64_t>> out;
  for (const auto& l : layers_) out.push_back(l->window());
  return out;
}

void Cache::reorder_cache(std::span<const int64_t> rows) {
  for (auto& l : layers_) l->reorder(rows);
}

}  // namespace transformers
