// A bounded cache of model outputs per word, shared by the threads that use one model (sharded,
// reader-writer locked). Words repeat heavily in real text, so BPE merges run once per distinct
// word; like the Rust library's cache it stops growing when full rather than evicting.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/tokenization/pre_tokenizers.h"

namespace transformers::tokenization {

class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 256;

  // Appends the cached tokens of `word` to `out`; false when not cached.
  bool lookup(std::string_view word, std::vector<Token>& out) const {
    if (word.size() >= kMaxWordBytes) return false;
    uint64_t h = std::hash<std::string_view>{}(word);
    const Shard& shard = shards_[h % kShards];
    std::shared_lock lock(shard.mutex);
    if (shard.slots.empty()) return false;
    for (size_t i = (h >> 8) & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      const Slot& s = shard.slots[i];
      if (s.count == 0) return false;
      if (s.hash == h && s.word == word) {
        out.insert(out.end(), shard.tokens.begin() + s.first, shard.tokens.begin() + s.first + s.count);
        return true;
      }
    }
  }

  void store(std::string_view word, const Token* begin, const Token* end) const {
    if (word.size() >= kMaxWordBytes || begin == end) return;
    uint64_t h = std::hash<std::string_view>{}(word);
    Shard& shard = shards_[h % kShards];
    std::unique_lock lock(shard.mutex);
    if (shard.size >= kSlots / 2) return;  // full: stop growing
    if (shard.slots.empty()) shard.slots.resize(kSlots);
    for (size_t i = (h >> 8) & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      Slot& s = shard.slots[i];
      if (s.count != 0) {
        if (s.hash == h && s.word == word) return;
        continue;
      }
      s.hash = h;
      s.word.assign(word);
      s.first = static_cast<uint32_t>(shard.tokens.size());
      s.count = static_cast<uint32_t>(end - begin);
      shard.tokens.insert(shard.tokens.end(), begin, end);
      ++shard.size;
      return;
    }
  }

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kSlots = 2048;  // per shard; at most half are used
  struct Slot {
    uint64_t hash = 0;
    std::string word;
    uint32_t first = 0, count = 0;
  };
  struct Shard {
    mutable std::shared_mutex mutex;
    std::vector<Slot> slots;
    std::vector<Token> tokens;
    size_t size = 0;
  };
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace transformers::tokenization
