// A token <-> id table shared by the models: an open-addressing hash from token strings to ids
// (lookups by string_view, no temporary strings, one probe sequence over a flat array) and an
// id-indexed array for the reverse direction. std::unordered_map was the main cost of loading a
// 256k-token vocabulary and of BPE's per-char lookups.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace transformers::tokenization {

// A hash for short strings (tokens and words are a few bytes), 8 bytes at a time: cheaper than
// std::hash's general-purpose one, which was 5-7% of an encode (word cache, vocabulary lookups).
inline uint64_t short_string_hash(std::string_view s) {
  constexpr uint64_t kMul = 0xff51afd7ed558ccdULL;
  auto load = [](const char* p, size_t n) {  // n = 4 or 8 bytes
    uint64_t x = 0;
    std::memcpy(&x, p, n);
    return x;
  };
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
  auto mix = [&](uint64_t x) {
    h = (h ^ x) * kMul;
    h ^= h >> 32;
  };
  if (n >= 8) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) mix(load(p + i, 8));
    if (i < n) mix(load(p + n - 8, 8));  // the tail, overlapping the last block
  } else if (n >= 4) {
    mix(load(p, 4) << 32 | load(p + n - 4, 4));  // two overlapping halves cover every byte
  } else if (n > 0) {
    mix(uint64_t{static_cast<unsigned char>(p[0])} << 16 |
        uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 | static_cast<unsigned char>(p[n - 1]));
  }
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 29;
  return h;
}

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
  static uint64_t hash(std::string_view s) { return short_string_hash(s); }
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
