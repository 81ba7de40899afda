#include "transformers/tokenization/vocab.h"

#include <algorithm>

namespace transformers::tokenization {

void Vocab::reserve(size_t n) {
  if (n * 2 > slots_.size()) rehash(n * 2);
}

void Vocab::rehash(size_t capacity) {
  size_t cap = 16;
  while (cap < capacity) cap <<= 1;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(cap, Slot{0, kEmpty});
  mask_ = cap - 1;
  for (const Slot& s : old) {
    if (s.id == kEmpty) continue;
    size_t i = s.hash & mask_;
    while (slots_[i].id != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void Vocab::add(std::string token, uint32_t id) {
  if ((count_ + 1) * 2 > slots_.size()) rehash(std::max<size_t>(32, slots_.size() * 2));
  if (id >= by_id_.size()) {
    by_id_.resize(id + 1);
    present_.resize(id + 1, false);
  }
  uint64_t h = hash(token);
  max_token_size_ = std::max(max_token_size_, token.size());
  by_id_[id] = std::move(token);
  present_[id] = true;
  std::string_view key = by_id_[id];
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.id == kEmpty) {
      s = {h, id};
      ++count_;
      return;
    }
    if (s.hash == h && s.id != id && by_id_[s.id] == key) {
      s.id = id;  // a later duplicate wins
      return;
    }
    if (s.id == id) return;
  }
}

}  // namespace transformers::tokenization
