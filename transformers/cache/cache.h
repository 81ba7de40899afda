// KV caches, chosen per layer as v5 does: a dynamic layer keeps every key/value; a sliding-window
// layer keeps only the last window-1 (what the next query can still see). Static layers are
// preallocated once (v5's StaticCache, `cache_implementation: "static"`) and refuse to grow past
// max_cache_len. Layers store K/V as [B, Hkv, capacity, D] f32 blocks; a paged layer for serving
// implements the same interface. Hybrid models need no special class: the per-layer windows
// (from layer_types / sliding_window) decide each layer's kind.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "transformers/core/tensor.h"

namespace transformers {

// What attention sees after an update: keys/values [B, Hkv, T, D] whose first entry has cache
// position `key_position`.
struct KVView {
  Tensor keys, values;
  int64_t key_position = 0;
};

class CacheLayer {
 public:
  virtual ~CacheLayer() = default;
  // Appends k_new, v_new ([B, Hkv, L, D], any strides) and returns everything attention may use.
  virtual KVView update(const Tensor& k_new, const Tensor& v_new) = 0;
  // Tokens held in memory now.
  virtual int64_t stored_tokens() const = 0;
  // Keeps batch rows in the order given (row i of the result is old row rows[i]); beam search
  // calls this after every step (v5's reorder_cache). rows may repeat entries.
  virtual void reorder(std::span<const int64_t> rows) = 0;
  // The sliding window of this layer, nullopt for full attention.
  virtual std::optional<int64_t> window() const { return std::nullopt; }
  // Slots allocated (for tests of preallocation).
  virtual int64_t capacity() const = 0;
};

class DynamicLayer : public CacheLayer {
 public:
  DynamicLayer() = default;
  KVView update(const Tensor& k_new, const Tensor& v_new) override;
  int64_t stored_tokens() const override { return length_; }
  void reorder(std::span<const int64_t> rows) override;
  int64_t capacity() const override { return keys_.defined() ? keys_.size(2) : 0; }

 protected:
  // preallocate > 0: the first update allocates that many slots; growth beyond them throws when
  // `fixed` (a static layer), or doubles as usual.
  DynamicLayer(int64_t preallocate, bool fixed) : preallocate_(preallocate), fixed_(fixed) {}
  void append(const Tensor& k_new, const Tensor& v_new);
  Tensor keys_, values_;  // [B, Hkv, capacity, D]
  int64_t length_ = 0;    // filled slots
  int64_t first_position_ = 0;  // cache position of slot 0
  int64_t preallocate_ = 0;
  bool fixed_ = false;
};

class SlidingWindowLayer : public DynamicLayer {
 public:
  // window >= 1 (ValueError otherwise: a window of 0 would keep -1 tokens).
  explicit SlidingWindowLayer(int64_t window) : window_(checked_window(window)) {}
  KVView update(const Tensor& k_new, const Tensor& v_new) override;
  std::optional<int64_t> window() const override { return window_; }

 protected:
  SlidingWindowLayer(int64_t window, int64_t preallocate)
      : DynamicLayer(preallocate, false), window_(checked_window(window)) {}
  static int64_t checked_window(int64_t window);

 private:
  int64_t window_;
};

// v5's StaticLayer: max_cache_len slots allocated by the first update (when the batch shape is
// known); an update past them raises ValueError naming max_cache_len.
class StaticLayer : public DynamicLayer {
 public:
  explicit StaticLayer(int64_t max_cache_len) : DynamicLayer(max_cache_len, /*fixed=*/true) {}
};

// v5's StaticSlidingWindowLayer: min(window, max_cache_len) slots allocated at once, enough for
// every decode step; a prompt longer than the window grows it once (the prefill attends over the
// whole prompt before the layer trims back to window-1).
class StaticSlidingWindowLayer : public SlidingWindowLayer {
 public:
  StaticSlidingWindowLayer(int64_t window, int64_t max_cache_len)
      : SlidingWindowLayer(window, std::min(window, max_cache_len)) {}
};

class Cache {
 public:
  // One entry per layer: nullopt for a full-attention layer, the window for a sliding one.
  explicit Cache(const std::vector<std::optional<int64_t>>& layer_windows);
  // v5's StaticCache with the same layer layout: static (sliding) layers of max_cache_len slots.
  static std::unique_ptr<Cache> make_static(const std::vector<std::optional<int64_t>>& layer_windows,
                                            int64_t max_cache_len);

  CacheLayer& layer(size_t i) { return *layers_.at(i); }
  const CacheLayer& layer(size_t i) const { return *layers_.at(i); }
  size_t num_layers() const { return layers_.size(); }
  // Tokens processed so far (the cache position of the next token).
  int64_t seq_length() const { return seen_tokens_; }
  void advance(int64_t tokens) { seen_tokens_ += tokens; }
  // Per-layer windows (the layout this cache was built from).
  std::vector<std::optional<int64_t>> layer_windows() const;
  bool is_static() const { return max_cache_len_.has_value(); }
  std::optional<int64_t> max_cache_len() const { return max_cache_len_; }
  // Reorders the batch rows of every layer (beam search).
  void reorder_cache(std::span<const int64_t> rows);

 private:
  Cache() = default;
  std::vector<std::unique_ptr<CacheLayer>> layers_;
  int64_t seen_tokens_ = 0;
  std::optional<int64_t> max_cache_len_;
};

// v5's DynamicCache: built from the model's per-layer sliding windows.
using DynamicCache = Cache;

}  // namespace transformers
