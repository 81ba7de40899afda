// A bounded cache of model outputs per word. Words repeat heavily in real text, so BPE merges
// run once per distinct word. Each thread keeps its own table for the model it last used (no
// locks on the hot path; a model id that is never reused keeps tables from going stale); like the
// Rust library's cache it stops growing when full rather than evicting.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/tokenization/pre_tokenizers.h"
#include "transformers/tokenization/vocab.h"

namespace transformers::tokenization {

class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 256;

  WordCache() : id_(next_id()) {}
  WordCache(const WordCache&) = delete;
  WordCache& operator=(const WordCache&) = delete;

  // Appends the cached tokens of `word` to `out`; false when not cached.
  bool lookup(std::string_view word, std::vector<Token>& out) const {
    if (word.size() >= kMaxWordBytes) return false;
    Table& t = table();
    if (t.slots.empty()) return false;
    uint64_t h = short_string_hash(word);
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      const Slot& s = t.slots[i];
      if (s.count == 0) return false;
      if (s.hash == h && s.word == word) {
        out.insert(out.end(), t.tokens.begin() + s.first, t.tokens.begin() + s.first + s.count);
        return true;
      }
    }
  }

  void store(std::string_view word, const Token* begin, const Token* end) const {
    if (word.size() >= kMaxWordBytes || begin == end) return;
    Table& t = table();
    if (t.size >= kSlots / 2) return;  // full: stop growing
    if (t.slots.empty()) t.slots.resize(kSlots);
    uint64_t h = short_string_hash(word);
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      Slot& s = t.slots[i];
      if (s.count != 0) {
        if (s.hash == h && s.word == word) return;
        continue;
      }
      s.hash = h;
      s.word.assign(word);
      s.first = static_cast<uint32_t>(t.tokens.size());
      s.count = static_cast<uint32_t>(end - begin);
      t.tokens.insert(t.tokens.end(), begin, end);
      ++t.size;
      return;
    }
  }

 private:
  static constexpr size_t kSlots = 1 << 15;  // at most half are used
  struct Slot {
    uint64_t hash = 0;
    std::string word;
    uint32_t first = 0, count = 0;
  };
  struct Table {
    uint64_t owner = 0;
    std::vector<Slot> slots;
    std::vector<Token> tokens;
    size_t size = 0;
  };
  static uint64_t next_id() {
    static std::atomic<uint64_t> counter{0};
    return ++counter;
  }
  // The calling thread's table for this cache: a few per thread, so that alternating between
  // tokenizers does not throw the tables away; the least recently used one is recycled.
  Table& table() const {
    static constexpr size_t kTablesPerThread = 4;
    thread_local Table tables[kTablesPerThread];
    thread_local uint64_t last_use[kTablesPerThread] = {};
    thread_local uint64_t clock = 0;
    size_t victim = 0;
    for (size_t k = 0; k < kTablesPerThread; ++k) {
      if (tables[k].owner == id_) {
        last_use[k] = ++clock;
        return tables[k];
      }
      if (last_use[k] < last_use[victim]) victim = k;
    }
    tables[victim] = Table();
    tables[victim].owner = id_;
    last_use[victim] = ++clock;
    return tables[victim];
  }
  uint64_t id_;
};

}  // namespace transformers::tokenization
