// A token <-> id table shared by the models: hashed lookup by string_view (no temporary strings
// on the hot path) and an id-indexed array for the reverse direction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace transformers::tokenization {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class Vocab {
 public:
  // Adds token -> id (a later token with the same string wins the lookup, as in the Rust maps).
  void add(std::string token, uint32_t id) {
    if (id >= by_id_.size()) {
      by_id_.resize(id + 1);
      present_.resize(id + 1, false);
    }
    by_id_[id] = token;
    present_[id] = true;
    by_token_[std::move(token)] = id;
  }
  std::optional<uint32_t> find(std::string_view token) const {
    auto it = by_token_.find(token);
    if (it == by_token_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string_view> token(uint32_t id) const {
    if (id >= by_id_.size() || !present_[id]) return std::nullopt;
    return std::string_view(by_id_[id]);
  }
  // Number of distinct token strings (the Rust vocab map's len()).
  size_t size() const { return by_token_.size(); }
  void reserve(size_t n) { by_token_.reserve(n); }

 private:
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> by_token_;
  std::vector<std::string> by_id_;
  std::vector<bool> present_;
};

}  // namespace transformers::tokenization
