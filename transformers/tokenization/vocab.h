// A token <-> id table shared by the models: an open-addressing hash from token strings to ids
// (lookups by string_view, no temporary strings, one probe sequence over a flat array) and an
// id-indexed array for the reverse direction. std::unordered_map was the main cost of loading a
// 256k-token vocabulary and of BPE's per-char lookups.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace transformers::tokenization {

class Vocab {
 public:
  // Adds token -> id (a later token with the same string wins the lookup, as in the Rust maps).
  void add(std::string token, uint32_t id);
  std::optional<uint32_t> find(std::string_view token) const {
    if (slots_.empty()) return std::nullopt;
    uint64_t h = hash(token);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id == kEmpty) return std::nullopt;
      if (s.hash == h && by_id_[s.id] == token) return s.id;
    }
  }
  std::optional<std::string_view> token(uint32_t id) const {
    if (id >= by_id_.size() || !present_[id]) return std::nullopt;
    return std::string_view(by_id_[id]);
  }
  // One past the largest id.
  uint32_t id_bound() const { return static_cast<uint32_t>(by_id_.size()); }
  // Number of distinct token strings (the Rust vocab map's len()).
  size_t size() const { return count_; }
  // The byte length of the longest token: no longer text can match.
  size_t max_token_size() const { return max_token_size_; }
  void reserve(size_t n);

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint64_t hash;
    uint32_t id;
  };
  static uint64_t hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
  void rehash(size_t capacity);

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
  size_t max_token_size_ = 0;
  std::vector<std::string> by_id_;
  std::vector<bool> present_;
};

// An open-addressing map from 64-bit keys (BPE merge pairs) to a value.
template <typename Value>
class U64Map {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    keys_.assign(cap, kEmptyKey);
    values_.resize(cap);
    mask_ = cap - 1;
  }
  // Inserts when absent; returns false when the key was already there.
  bool try_emplace(uint64_t key, const Value& value) {
    if ((count_ + 1) * 2 > keys_.size()) grow();
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return false;
      if (keys_[i] == kEmptyKey) {
        keys_[i] = key;
        values_[i] = value;
        ++count_;
        return true;
      }
    }
  }
  const Value* find(uint64_t key) const {
    if (keys_.empty()) return nullptr;
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmptyKey) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmptyKey = UINT64_MAX;
  static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
  }
  void grow() {
    std::vector<uint64_t> keys = std::move(keys_);
    std::vector<Value> values = std::move(values_);
    reserve(std::max<size_t>(16, keys.size()));
    count_ = 0;
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] != kEmptyKey) try_emplace(keys[i], values[i]);
  }
  std::vector<uint64_t> keys_;
  std::vector<Value> values_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace transformers::tokenization
