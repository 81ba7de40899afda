// KV caches, chosen per layer as v5 does: a dynamic layer keeps every key/value; a sliding-window
// layer keeps only the last window-1 (what the next query can still see). Layers store K/V as
// [B, Hkv, capacity, D] f32 blocks; a paged layer for serving implements the same interface.
#pragma once

#include <memory>
#include <optional>
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
};

class DynamicLayer : public CacheLayer {
 public:
  KVView update(const Tensor& k_new, const Tensor& v_new) override;
  int64_t stored_tokens() const override { return length_; }

 protected:
  void append(const Tensor& k_new, const Tensor& v_new);
  Tensor keys_, values_;  // [B, Hkv, capacity, D]
  int64_t length_ = 0;    // filled slots
  int64_t first_position_ = 0;  // cache position of slot 0
};

class SlidingWindowLayer : public DynamicLayer {
 public:
  explicit SlidingWindowLayer(int64_t window) : window_(window) {}
  KVView update(const Tensor& k_new, const Tensor& v_new) override;

 private:
  int64_t window_;
};

class Cache {
 public:
  // One entry per layer: nullopt for a full-attention layer, the window for a sliding one.
  explicit Cache(const std::vector<std::optional<int64_t>>& layer_windows);
  CacheLayer& layer(size_t i) { return *layers_.at(i); }
  size_t num_layers() const { return layers_.size(); }
  // Tokens processed so far (the cache position of the next token).
  int64_t seq_length() const { return seen_tokens_; }
  void advance(int64_t tokens) { seen_tokens_ += tokens; }

 private:
  std::vector<std::unique_ptr<CacheLayer>> layers_;
  int64_t seen_tokens_ = 0;
};

// v5's DynamicCache: built from the model's per-layer sliding windows.
using DynamicCache = Cache;

}  // namespace transformers
